"""Which sync endpoint methods run on the event loop: the bytecode rule, and dispatch following it."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from docarray import DocList
from docarray.documents import TextDoc

from docwire.executor.base import Executor
from docwire.executor.decorators import requests
from docwire.executor.dispatch import run_endpoint
from docwire.executor.inline_calls import runs_inline
from docwire.executor.sync_runner import SyncRunner

COUNTER = 0


class Methods:
    limit = 3

    # inline: only constants and locals
    def docstring_only(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        """Does nothing."""

    def passes(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        pass

    def returns_docs(self, docs: DocList[TextDoc], **kwargs: Any) -> DocList[TextDoc]:
        return docs

    def returns_constant_dict(self, docs: DocList[TextDoc], **kwargs: Any) -> dict[str, Any]:
        return {"ok": True, "kwargs": kwargs}

    def rebinds(self, docs: DocList[TextDoc], **kwargs: Any) -> tuple[Any, ...]:
        first = docs
        return (first, [kwargs])

    # on the thread: anything that may run other code, loop or block
    def calls(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        print(len(docs))  # noqa: T201 - any call

    def reads_attribute(self, docs: DocList[TextDoc], **kwargs: Any) -> int:
        return self.limit

    def reads_global(self, docs: DocList[TextDoc], **kwargs: Any) -> int:
        return COUNTER

    def subscripts(self, docs: DocList[TextDoc], **kwargs: Any) -> Any:
        return kwargs["parameters"]

    def adds(self, docs: DocList[TextDoc], **kwargs: Any) -> Any:
        return docs + docs

    def compares(self, docs: DocList[TextDoc], **kwargs: Any) -> bool:
        return docs == kwargs

    def loops(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        while True:
            pass

    def branches(self, docs: DocList[TextDoc], **kwargs: Any) -> Any:
        return docs if kwargs else None  # truth testing may call __bool__/__len__

    def hashes(self, docs: DocList[TextDoc], **kwargs: Any) -> Any:
        return {docs: 1}

    def closure(self, docs: DocList[TextDoc], **kwargs: Any) -> Callable[[], Any]:
        return lambda: docs

    def catches(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        try:
            return None
        except ValueError:
            return None

    def generates(self, docs: DocList[TextDoc], **kwargs: Any) -> Iterator[Any]:
        yield docs

    async def awaits(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        pass

    @functools.cache  # noqa: B019 - never called; a wrapper object: what it calls is not read
    def decorated(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        pass


INLINE = ["docstring_only", "passes", "returns_docs", "returns_constant_dict", "rebinds"]
THREADED = [
    "calls",
    "reads_attribute",
    "reads_global",
    "subscripts",
    "adds",
    "compares",
    "loops",
    "branches",
    "hashes",
    "closure",
    "catches",
    "generates",
    "awaits",
    "decorated",
]


@pytest.mark.parametrize(
    ("name", "inline"), [*((name, True) for name in INLINE), *((name, False) for name in THREADED)]
)
def test_only_methods_that_move_values_run_inline(name: str, inline: bool) -> None:
    """Inline: constants and locals only. Anything that may call, loop, or run other code goes to the thread."""
    assert runs_inline(getattr(Methods(), name)) is inline
    assert not runs_inline(functools.partial(getattr(Methods(), name)))  # wrappers never do


def test_c_functions_do_not_run_inline() -> None:
    assert not runs_inline(print)


class Mixed(Executor):
    @requests(on="/noop")
    def noop(self, docs: DocList[TextDoc], **kwargs: Any) -> dict[str, Any]:
        return {"done": True}

    @requests(on="/work")
    def work(self, docs: DocList[TextDoc], **kwargs: Any) -> dict[str, Any]:
        return {"thread": threading.current_thread().name}


def _run(executor: Executor, endpoint: str, pool: SyncRunner) -> Any:
    bound = type(executor).resolve(endpoint)
    assert bound is not None
    docs = DocList[TextDoc]([TextDoc(text="a")])
    return asyncio.run(run_endpoint(executor, bound, docs, {}, pool)).result


def test_dispatch_calls_an_inline_method_without_the_thread() -> None:
    runner = SyncRunner(name="mixed-sync")
    executor = Mixed()
    assert _run(executor, "/work", runner) == {"thread": "mixed-sync"}
    runner.shutdown()
    assert _run(executor, "/noop", runner) == {"done": True}  # the runner is gone: not used
    with pytest.raises(RuntimeError, match="shut down"):
        _run(executor, "/work", runner)


def test_a_one_key_dict_needs_a_constant_key() -> None:
    def constant_key(docs: Any) -> dict[str, Any]:
        return {"key": docs}

    def local_key(docs: Any) -> dict[Any, int]:
        return {docs: 1}

    def empty(docs: Any) -> dict[str, Any]:
        return {}

    assert runs_inline(constant_key)
    assert runs_inline(empty)
    assert not runs_inline(local_key)
