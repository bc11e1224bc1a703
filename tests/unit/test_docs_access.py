"""Which endpoint methods can see their documents: the bytecode test behind the executor's pass-through."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import pytest
from docarray import DocList
from docarray.documents import TextDoc

from docwire.executor.docs_access import never_reads_docs, tracing


def _logged(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


class Methods:
    seen: dict[str, Any]

    # blind: the documents cannot be seen
    def docstring_only(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        """Does nothing."""

    def kwargs_unused(self, **kwargs: Any) -> None:
        pass

    def parameters_only(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"seen": sorted(parameters)}

    async def async_pass(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        return None

    def rebinds(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        docs = DocList[TextDoc]()
        del docs

    def keyword_only(self, *, docs: DocList[TextDoc], **kwargs: Any) -> None:
        pass

    # sighted: the documents can be seen
    def iterates(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        for doc in docs:
            doc.text = "x"

    def comprehension(self, docs: DocList[TextDoc], **kwargs: Any) -> list[str | None]:
        return [doc.text for doc in docs]

    def closure(self, docs: DocList[TextDoc], **kwargs: Any) -> Callable[[], int]:
        return lambda: len(docs)

    def through_kwargs(self, **kwargs: Any) -> None:
        kwargs["docs"].append(TextDoc(text="added"))

    def kwargs_passed_on(self, **kwargs: Any) -> None:
        self.kwargs_unused(**kwargs)

    def reads_locals(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        self.seen = locals()

    def reads_frames(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        def peek() -> Any:
            return sys._getframe(1).f_locals

        peek()

    def evaluates(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        eval("docs.append(None)")

    @_logged
    def decorated(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        pass


BLIND = ["docstring_only", "kwargs_unused", "parameters_only", "async_pass", "rebinds", "keyword_only"]
SIGHTED = [
    "iterates",
    "comprehension",
    "closure",
    "through_kwargs",
    "kwargs_passed_on",
    "reads_locals",
    "reads_frames",
    "evaluates",
    "decorated",
]


@pytest.mark.parametrize("name", BLIND)
def test_methods_that_cannot_see_their_documents(name: str) -> None:
    assert never_reads_docs(getattr(Methods(), name))


@pytest.mark.parametrize("name", SIGHTED)
def test_methods_that_may_see_their_documents(name: str) -> None:
    assert not never_reads_docs(getattr(Methods(), name))


def test_callables_that_are_not_plain_functions_may_see_them() -> None:
    assert not never_reads_docs(functools.partial(Methods().docstring_only))
    assert not never_reads_docs(print)


def test_a_tracer_is_noticed() -> None:
    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return None

    previous = sys.gettrace()
    assert previous is not None or not tracing()  # coverage tools trace; then nothing is blind anyway
    sys.settrace(tracer)
    try:
        assert tracing()
    finally:
        sys.settrace(previous)
