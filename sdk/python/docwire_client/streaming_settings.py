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
  last streaming ``post`` ends, having moved at least ``TRIM_AFTER_REQUESTS`` requests, the
  heap's free memory goes back to the system (``malloc_trim``), so the process does not keep
  the buffers of a large input; a loop of small posts keeps them (trimming after each cost
  it 10% of its CPU, the pages faulted in again). ``DOCWIRE_TUNE_MALLOC=0`` (or the user's
  own ``GLIBC_TUNABLES``) leaves glibc alone.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator

from docwire_contract.allocator import release_free_memory, tune_allocator

__all__ = ["SPACED_THRESHOLD", "TRIM_AFTER_REQUESTS", "streaming_settings"]

#: The young-generation threshold while streaming (CPython's default is 700; docwire's servers use the same).
SPACED_THRESHOLD = 50_000
#: Requests streamed (by the posts that overlapped) before their end gives the freed heap back.
TRIM_AFTER_REQUESTS = 64

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None
_requests = 0  # streamed since the first of the posts under way began (a miscount under threads is harmless)


def _count_request() -> None:
    global _requests  # counts for every post under way
    _requests += 1


@contextlib.contextmanager
def streaming_settings() -> Iterator[Callable[[], None]]:
    """The settings above for the duration (nested and concurrent uses share one change); yields what to
    call for each request streamed."""
    global _active, _saved, _requests  # one setting per process, like the collector's
    with _lock:
        if _active == 0:
            tune_allocator()
            current = gc.get_threshold()
            if gc.isenabled() and 0 < current[0] < SPACED_THRESHOLD:
                _saved = current
                gc.set_threshold(SPACED_THRESHOLD, current[1], current[2])
        _active += 1
    try:
        yield _count_request
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                if _saved is not None and gc.get_threshold()[0] == SPACED_THRESHOLD:  # unless changed meanwhile
                    gc.set_threshold(*_saved)
                _saved = None
                if _requests >= TRIM_AFTER_REQUESTS:
                    release_free_memory()
                _requests = 0
