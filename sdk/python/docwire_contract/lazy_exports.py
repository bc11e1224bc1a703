"""Names a package exports but imports on first use (PEP 562's module ``__getattr__`` and ``__dir__``).

A package lists where each name lives; ``lazy_exports`` gives it the two module functions that
import the name's module when the name is first read, and keep the value in the package's namespace.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, namespace: dict[str, Any], locations: Mapping[str, tuple[str, str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``locations`` maps a name to (module, attribute)."""

    def module_getattr(name: str) -> Any:
        try:
            module, attribute = locations[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), attribute)
        namespace[name] = value
        return value

    def module_dir() -> list[str]:
        return sorted([*namespace, *locations])

    return module_getattr, module_dir
