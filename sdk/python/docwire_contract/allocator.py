"""Request-sized buffers kept in glibc's heap: what docwire's servers set at start and its client while it streams.

Every request allocates and frees buffers of a few hundred kB (gRPC's message slices,
serialized requests, document bytes). glibc serves those with their own ``mmap`` and gives
them back on ``free``, so the next request faults every page in again: 20 to 50 page faults
and 50 to 150 µs of CPU per 214 kB request in each process (``bench/profile_hop.py``).
Raising the mmap threshold to 4 MiB and the trim threshold to 64 MiB keeps them in the heap.

Only on glibc, and only when the user has not configured malloc (``GLIBC_TUNABLES`` naming
``glibc.malloc``, or the ``MALLOC_*_`` variables) nor set ``DOCWIRE_TUNE_MALLOC=0``.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from typing import Any, Final

__all__ = ["MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES", "TUNE_MALLOC_ENV", "release_free_memory", "tune_allocator"]

# mallopt(3) parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
#: Buffers below this size come from the heap, not from their own mmap.
MMAP_THRESHOLD_BYTES: Final = 4 * 1024 * 1024
#: The heap returns memory to the system once this much is free at its top.
TRIM_THRESHOLD_BYTES: Final = 64 * 1024 * 1024
_USER_MALLOC_SETTINGS: Final = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")
#: Set to ``0`` to leave glibc's allocator as it is.
TUNE_MALLOC_ENV: Final = "DOCWIRE_TUNE_MALLOC"


@functools.cache
def _glibc() -> Any:
    """This process's glibc, or None (another libc, another system, or the user's own malloc settings)."""
    if not sys.platform.startswith("linux") or os.environ.get(TUNE_MALLOC_ENV, "1") == "0":
        return None
    if "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", "") or any(
        name in os.environ for name in _USER_MALLOC_SETTINGS
    ):
        return None
    try:
        libc = ctypes.CDLL(None)
        if not libc.gnu_get_libc_version:  # glibc's own symbol: not musl or another libc
            return None
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.mallopt.restype = ctypes.c_int
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


@functools.cache
def tune_allocator() -> bool:
    """Raises the thresholds (once per process); returns whether it applied."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


def release_free_memory() -> bool:
    """Gives the heap's free memory back to the system (``malloc_trim``) where ``tune_allocator`` applies:
    what a client kept of its buffers while it streamed goes back when it is done. Returns whether it ran."""
    if not tune_allocator():
        return False
    _glibc().malloc_trim(0)
    return True
