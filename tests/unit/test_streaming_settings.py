"""While it streams, the client spaces collections and keeps its buffers in the heap; then gives both back."""

from __future__ import annotations

import ctypes
import gc
import resource
from collections.abc import Iterator

import pytest

from docwire_client import streaming_settings as streaming_settings_module
from docwire_client.streaming_settings import SPACED_THRESHOLD, TRIM_AFTER_REQUESTS, streaming_settings
from docwire_contract import allocator


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    saved, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.set_threshold(*saved)
    if enabled:
        gc.enable()


def test_nested_uses_raise_once_and_restore_at_the_end() -> None:
    gc.set_threshold(700, 10, 10)
    with streaming_settings():
        assert gc.get_threshold() == (SPACED_THRESHOLD, 10, 10)
        with streaming_settings():
            assert gc.get_threshold()[0] == SPACED_THRESHOLD
        assert gc.get_threshold()[0] == SPACED_THRESHOLD  # the outer post still runs
    assert gc.get_threshold() == (700, 10, 10)


def test_a_disabled_or_already_spaced_collector_is_left_alone() -> None:
    gc.disable()
    with streaming_settings():
        assert not gc.isenabled()
    gc.enable()
    gc.set_threshold(100_000, 10, 10)
    with streaming_settings():
        assert gc.get_threshold()[0] == 100_000
    assert gc.get_threshold()[0] == 100_000


def test_a_setting_the_program_changed_meanwhile_is_kept() -> None:
    gc.set_threshold(700, 10, 10)
    with streaming_settings():
        gc.set_threshold(1234, 10, 10)
    assert gc.get_threshold()[0] == 1234


def test_the_heap_keeps_request_buffers_while_streaming() -> None:
    if allocator._glibc() is None:
        pytest.skip("not glibc, or malloc configured by the environment")

    def requests_in_flight() -> None:  # a stream's worth of 214 kB requests, allocated, then all freed
        buffers = [ctypes.create_string_buffer(214_000) for _ in range(100)]
        del buffers

    with streaming_settings():
        requests_in_flight()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(3):
            requests_in_flight()
        # glibc's defaults give the freed heap back and fault ~5,000 pages in again each time.
        assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults < 1_000


def test_the_freed_heap_goes_back_after_a_large_input_not_after_a_small_post(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[bool] = []

    def release() -> bool:
        trims.append(True)
        return True

    monkeypatch.setattr(streaming_settings_module, "release_free_memory", release)
    with streaming_settings() as count_request:
        for _ in range(3):
            count_request()
    assert trims == []  # a small post: its buffers stay for the next one
    with streaming_settings() as outer, streaming_settings() as inner:  # two posts under way at once
        for _ in range(TRIM_AFTER_REQUESTS // 2):
            outer()
            inner()
    assert trims == [True]  # once, when the last of them ended
