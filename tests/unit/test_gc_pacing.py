"""The client spaces young-generation collections while it streams, and gives the setting back."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from docwire_client.gc_pacing import SPACED_THRESHOLD, spaced_collections


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    saved, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.set_threshold(*saved)
    if enabled:
        gc.enable()


def test_nested_uses_raise_once_and_restore_at_the_end() -> None:
    gc.set_threshold(700, 10, 10)
    with spaced_collections():
        assert gc.get_threshold() == (SPACED_THRESHOLD, 10, 10)
        with spaced_collections():
            assert gc.get_threshold()[0] == SPACED_THRESHOLD
        assert gc.get_threshold()[0] == SPACED_THRESHOLD  # the outer post still runs
    assert gc.get_threshold() == (700, 10, 10)


def test_a_disabled_or_already_spaced_collector_is_left_alone() -> None:
    gc.disable()
    with spaced_collections():
        assert not gc.isenabled()
    gc.enable()
    gc.set_threshold(100_000, 10, 10)
    with spaced_collections():
        assert gc.get_threshold()[0] == 100_000
    assert gc.get_threshold()[0] == 100_000


def test_a_setting_the_program_changed_meanwhile_is_kept() -> None:
    gc.set_threshold(700, 10, 10)
    with spaced_collections():
        gc.set_threshold(1234, 10, 10)
    assert gc.get_threshold()[0] == 1234
