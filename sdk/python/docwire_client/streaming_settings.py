"""The process settings a client changes while it streams many requests, and gives back after.

* **Fewer young-generation collections.** Decoding a reply builds thousands of small objects
  (documents, their fields, tensors), and every 700 allocations CPython runs a
  young-generation collection that walks them all again: on 100-document replies that was
  the client's largest single cost (``docs/performance.md``). While at least one
  multi-request ``post`` runs, the threshold is raised to ``SPACED_THRESHOLD``: the same
  objects are collected, in fewer, larger passes. The process' own setting comes back when
  the last such ``post`` ends. A process that disabled the collector, or already collects
  less often, is left alone.
* **Request buffers kept in the heap** (``docwire_contract.allocator``, as the servers do):
  without it every 214 kB request the client builds and every reply it reads is a new
  ``mmap`` whose pages fault in one by one (~20 faults, ~150 µs of CPU a request). When the
  last streaming ``post`` ends, the heap's free memory goes back to the system
  (``malloc_trim``), so the process does not keep the buffers. ``DOCWIRE_TUNE_MALLOC=0``
  (or the user's own ``GLIBC_TUNABLES``) leaves glibc alone.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

from docwire_contract.allocator import release_free_memory, tune_allocator

__all__ = ["SPACED_THRESHOLD", "streaming_settings"]

#: The young-generation threshold while streaming (CPython's default is 700; docwire's servers use the same).
SPACED_THRESHOLD = 50_000

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None


@contextlib.contextmanager
def streaming_settings() -> Iterator[None]:
    """The settings above for the duration (nested and concurrent uses share one change)."""
    global _active, _saved  # one setting per process, like the collector's
    with _lock:
        if _active == 0:
            tune_allocator()
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
            if _active == 0:
                if _saved is not None and gc.get_threshold()[0] == SPACED_THRESHOLD:  # unless changed meanwhile
                    gc.set_threshold(*_saved)
                _saved = None
                release_free_memory()
