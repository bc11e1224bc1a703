"""Finds the Executor class that ``uses`` names: a class, ``"module.Class"``, or a class in py_modules."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from docwire.executor.base import Executor

__all__ = ["load_executor_class", "load_py_modules"]


def load_py_modules(paths: Sequence[str]) -> list[ModuleType]:
    """Imports Python files by path (YAML ``py_modules``), so the classes they define can be named."""
    modules = []
    for path in paths:
        file = Path(path)
        name = file.stem
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, file)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import py_module {path!r}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        modules.append(sys.modules[name])
    return modules


def load_executor_class(uses: type[Executor] | str | None, modules: Sequence[ModuleType] = ()) -> type[Executor]:
    """Resolves ``uses`` to an Executor subclass.

    ``None`` means the pass-through base Executor. A bare class name is looked up in
    ``modules`` (the ``py_modules`` of a YAML file).

    Raises:
        ImportError: the module or class cannot be found.
        TypeError: what was found is not an Executor subclass.
    """
    if uses is None:
        return Executor
    found: object = uses
    if isinstance(uses, str):
        found = _find_class(uses, modules)
    if not (inspect.isclass(found) and issubclass(found, Executor)):
        raise TypeError(f"uses={uses!r} is not a docwire Executor subclass")
    return found


def _find_class(name: str, modules: Sequence[ModuleType]) -> object:
    module_name, _, class_name = name.rpartition(".")
    if module_name:
        module = importlib.import_module(module_name)
        if not hasattr(module, class_name):
            raise ImportError(f"module {module_name!r} ({module.__file__}) has no class {class_name!r}")
        return getattr(module, class_name)
    if name in ("Executor", "BaseExecutor"):
        return Executor
    for module in modules:
        candidate = vars(module).get(name)
        if inspect.isclass(candidate) and issubclass(candidate, Executor):
            return candidate
    raise ImportError(f"no Executor class named {name!r}: give 'module.Class' or list its file in py_modules")
