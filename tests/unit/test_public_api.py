"""The public facades: sorted ``__all__``, every name resolvable, no server import from the client."""

from __future__ import annotations

import subprocess
import sys

import pytest

import docwire
import docwire_client


@pytest.mark.parametrize("module", [docwire, docwire_client])
def test_all_is_sorted_and_resolvable(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(names)
    for name in names:
        assert getattr(module, name) is not None


def test_lazy_table_matches_all() -> None:
    assert sorted(docwire._LOCATIONS) == docwire.__all__


def test_client_imports_without_the_server_first() -> None:
    # Importing the client first must work and must not import the server's runtime.
    code = "import docwire_client, sys; assert 'docwire' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
