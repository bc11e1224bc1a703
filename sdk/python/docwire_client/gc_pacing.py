"""Fewer young-generation collections while a client streams many requests.

Decoding a reply builds thousands of small objects (documents, their fields, tensors),
and every 700 allocations CPython runs a young-generation collection that walks them
all again: on 100-document replies that was the client's largest single cost
(``docs/performance.md``). While at least one multi-request ``post`` runs, the
young-generation threshold is raised to ``SPACED_THRESHOLD``: the same objects are
collected, in fewer, larger passes. The process' own setting comes back when the last
such ``post`` ends. A process that disabled the collector, or already collects less
often, is left alone.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["SPACED_THRESHOLD", "spaced_collections"]

#: The young-generation threshold while streaming (CPython's default is 700; docwire's servers use the same).
SPACED_THRESHOLD = 50_000

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None


@contextlib.contextmanager
def spaced_collections() -> Iterator[None]:
    """Raises the young-generation threshold for the duration (nested and concurrent uses share one change)."""
    global _active, _saved  # one setting per process, like the collector's
    with _lock:
        if _active == 0:
            current = gc.get_threshold()
            if gc.isenabled() and 0 < current[0] < SPACED_THRESHOLD:
                _saved = current
                gc.set_threshold(SPACED_THRESHOLD, current[1], current[2])
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                if gc.get_threshold()[0] == SPACED_THRESHOLD:  # unless the program changed it meanwhile
                    gc.set_threshold(*_saved)
                _saved = None
