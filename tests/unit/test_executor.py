"""Executors as plain classes: @requests bindings, signatures, dispatch and return rules (seed 003)."""

from __future__ import annotations

import asyncio
import datetime
import threading
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
from docarray import BaseDoc, DocList
from pydantic import BaseModel, Field, ValidationError

from docwire.executor.base import Executor, RuntimeArgs, instantiate
from docwire.executor.decorators import requests
from docwire.executor.dispatch import _arguments, run_endpoint, stream_endpoint
from docwire.executor.signature import OFFERED
from docwire_contract.conventions import DEFAULT_ENDPOINT, normalize_endpoint
from docwire_contract.doc_types import Document


class InDoc(BaseDoc):
    text: str = ""


class OutDoc(BaseDoc):
    text: str = ""
    length: int = 0


class Params(BaseModel):
    top_k: int = Field(default=5, description="how many")


class Sample(Executor):
    def __init__(self, greeting: str = "hi", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.greeting = greeting

    @requests(on=["/index", "/search"])
    def batch(self, docs: DocList[InDoc], **kwargs: object) -> DocList[OutDoc]:
        return DocList[OutDoc](OutDoc(text=d.text, length=len(d.text)) for d in docs)

    @requests(on="/mutate")
    async def mutate(self, docs: DocList[InDoc], parameters: dict[str, object], **kwargs: object) -> None:
        for d in docs:
            d.text = f"{self.greeting} {d.text} {parameters.get('suffix', '')}".strip()

    @requests(on="/typed-params")
    def typed_params(self, docs: DocList[InDoc], parameters: Params) -> dict[str, int]:
        return {"top_k": parameters.top_k, "thread_is_main": int(threading.current_thread() is threading.main_thread())}

    @requests(on="/single", request_schema=InDoc, response_schema=OutDoc)
    def single(self, doc, **kwargs):  # type: ignore[no-untyped-def]
        return OutDoc(text=doc.text.upper(), length=len(doc.text))

    @requests(on="/gen")
    async def gen(self, doc: InDoc, **kwargs: object) -> AsyncIterator[OutDoc]:
        for i in range(3):
            yield OutDoc(text=f"{doc.text}{i}")

    @requests(on="/syncgen")
    def syncgen(self, doc: InDoc, **kwargs: object) -> Iterator[OutDoc]:
        yield from (OutDoc(text=f"{doc.text}{i}") for i in range(2))

    @requests
    def default(self, **kwargs: object) -> dict[str, str]:
        return {"handled_by": "default"}


def docs(*texts: str) -> DocList[InDoc]:
    return DocList[InDoc]([InDoc(text=t) for t in texts])


def test_bindings_and_default() -> None:
    assert set(Sample.endpoints) == {
        "/index",
        "/search",
        "/mutate",
        "/typed-params",
        "/single",
        "/gen",
        "/syncgen",
        DEFAULT_ENDPOINT,
    }
    assert Sample.resolve("/index").method_name == "batch"  # type: ignore[union-attr]
    assert Sample.resolve("/unknown").method_name == "default"  # type: ignore[union-attr]
    assert Executor.resolve("/anything") is None  # no binding: requests pass through


@pytest.mark.parametrize(
    ("endpoint", "input_type", "output_type", "single", "generator", "is_async"),
    [
        ("/index", InDoc, OutDoc, False, False, False),
        ("/mutate", InDoc, InDoc, False, False, True),
        ("/single", InDoc, OutDoc, True, False, False),
        ("/gen", InDoc, OutDoc, True, True, True),
        ("/syncgen", InDoc, OutDoc, True, True, False),
        (DEFAULT_ENDPOINT, Document, Document, False, False, False),
    ],
)
def test_signature_is_read_from_annotations_and_schemas(
    endpoint: str, input_type: type, output_type: type, single: bool, generator: bool, is_async: bool
) -> None:
    sig = Sample.endpoints[endpoint].signature
    assert (sig.input_type, sig.output_type, sig.single_doc, sig.is_generator, sig.is_async) == (
        input_type,
        output_type,
        single,
        generator,
        is_async,
    )
    assert Sample.endpoints["/typed-params"].signature.parameters_model is Params


def test_executor_is_an_ordinary_class() -> None:
    executor = Sample(greeting="hello")
    assert executor.batch(docs("ab")).length == [2]
    assert executor.runtime_args.name == "Sample"


def test_instantiate_sets_runtime_args_before_init() -> None:
    seen: list[str] = []

    class Probe(Executor):
        def __init__(self) -> None:  # no **kwargs, no super().__init__: still works
            seen.append(self.runtime_args.name)

    probe = instantiate(Probe, RuntimeArgs(name="probe", replica_id=2), {})
    assert seen == ["probe"]
    assert probe.runtime_args.replica_id == 2


def run(executor: Executor, endpoint: str, batch: DocList[InDoc], parameters: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    bound = type(executor).resolve(endpoint)
    assert bound is not None
    return asyncio.run(run_endpoint(executor, bound, batch, parameters or {}))


def test_returned_docs_replace_the_input() -> None:
    outcome = run(Sample(), "/index", docs("a", "bcd"))
    assert [d.length for d in outcome.docs] == [1, 3]
    assert outcome.result is None


def test_none_keeps_mutated_docs() -> None:
    outcome = run(Sample(greeting="hey"), "/mutate", docs("you"), {"suffix": "!"})
    assert outcome.docs.text == ["hey you !"]


def test_dict_is_a_result_and_docs_stay() -> None:
    batch = docs("x")
    outcome = run(Sample(), "/other", batch)
    assert outcome.result == {"handled_by": "default"}
    assert outcome.docs is batch


class Reporter(Executor):
    """Returns dicts of what user code tends to return as results."""

    @requests(on="/numpy")
    def numpy_values(self, docs: DocList[InDoc], **kwargs: object) -> dict[str, object]:
        return {"scores": np.array([0.5, 0.25], dtype=np.float32), "best": np.int64(3), "ok": np.bool_(True)}

    @requests(on="/python")
    def python_values(self, docs: DocList[InDoc], **kwargs: object) -> dict[object, object]:
        return {"when": datetime.date(2026, 12, 7), "pair": (1, 2), 7: "int key", "nested": {"set": {"a"}}}

    @requests(on="/object")
    def object_value(self, docs: DocList[InDoc], **kwargs: object) -> dict[str, object]:
        return {"nested": {"model": object()}}

    @requests(on="/single-numpy")
    def single_numpy(self, doc: InDoc, **kwargs: object) -> dict[str, object]:
        return {f"len-{doc.text}": np.int32(len(doc.text))}


def test_a_returned_dict_becomes_json_numpy_values_included() -> None:
    """The result travels in a protobuf Struct: numpy values become numbers and lists, other values as pydantic
    makes them JSON (they failed the request with "Unexpected type" from protobuf, reported as docwire's bug)."""
    assert run(Reporter(), "/numpy", docs("x")).result == {"scores": [0.5, 0.25], "best": 3, "ok": True}
    assert run(Reporter(), "/python", docs("x")).result == {
        "when": "2026-12-07",
        "pair": [1, 2],
        "7": "int key",
        "nested": {"set": ["a"]},
    }
    assert run(Reporter(), "/single-numpy", docs("a", "bb")).result == {"len-a": 1, "len-bb": 2}


def test_a_returned_dict_json_cannot_hold_fails_naming_the_endpoint_and_the_type() -> None:
    with pytest.raises(TypeError, match=r"the results /object returns .* travel as JSON and hold a builtins\.object"):
        run(Reporter(), "/object", docs("x"))


def test_pydantic_parameters_are_validated_and_sync_code_runs_off_the_loop_thread() -> None:
    assert run(Sample(), "/typed-params", docs(), {"top_k": 3}).result == {"top_k": 3, "thread_is_main": 0}
    with pytest.raises(ValidationError, match="top_k"):
        run(Sample(), "/typed-params", docs(), {"top_k": "many"})


def test_single_document_endpoint_is_called_per_document() -> None:
    outcome = run(Sample(), "/single", docs("a", "bb"))
    assert [(d.text, d.length) for d in outcome.docs] == [("A", 1), ("BB", 2)]


@pytest.mark.parametrize(("endpoint", "expected"), [("/gen", ["t0", "t1", "t2"]), ("/syncgen", ["t0", "t1"])])
def test_generator_endpoints_stream(endpoint: str, expected: list[str]) -> None:
    executor = Sample()
    bound = Sample.resolve(endpoint)
    assert bound is not None

    async def collect() -> list[str]:
        return [d.text async for d in stream_endpoint(executor, bound, InDoc(text="t"), {})]

    assert asyncio.run(collect()) == expected


def test_returning_something_else_is_a_clear_error() -> None:
    class Bad(Executor):
        @requests
        def foo(self, **kwargs: object) -> int:
            return 42

    with pytest.raises(TypeError, match="must return None, documents or a dict, not int"):
        run(Bad(), "/x", docs())


@pytest.mark.parametrize(("raw", "expected"), [("index", "/index"), ("/index", "/index"), ("", "/default"), ("/", "/")])
def test_normalize_endpoint(raw: str, expected: str) -> None:
    assert normalize_endpoint(raw) == expected


def test_definition_mistakes_are_refused_when_the_class_is_defined() -> None:
    """Each would otherwise surface request by request (or never: one of two methods bound to one endpoint
    silently won)."""
    with pytest.raises(TypeError, match=r"binds /x to two methods, first and second"):

        class Twice(Executor):
            @requests(on="/x")
            def first(self, docs: DocList[InDoc], **kwargs: object) -> None: ...

            @requests(on="x")
            def second(self, docs: DocList[InDoc], **kwargs: object) -> None: ...

    with pytest.raises(TypeError, match=r"takes an endpoint \('/index'\) or a list of them, not 3"):

        class Numbered(Executor):
            @requests(on=3)  # type: ignore[call-overload, untyped-decorator]
            def index(self, docs: DocList[InDoc], **kwargs: object) -> None: ...

    with pytest.raises(TypeError, match=r"has a parameter 'documents' no request fills: .*docs, docs_map"):

        class Misnamed(Executor):
            @requests
            def index(self, documents: DocList[InDoc]) -> None: ...


def test_a_subclass_may_bind_an_endpoint_its_parent_binds() -> None:
    class Child(Sample):
        @requests(on="/index")
        def reindex(self, docs: DocList[InDoc], parameter_free: int = 0, **kwargs: object) -> None: ...

    bound = Child.resolve("/index")
    assert bound is not None
    assert bound.method_name == "reindex"


def test_the_keywords_checked_when_a_class_is_defined_are_those_a_call_offers() -> None:
    """``signature.OFFERED`` (what a definition may ask for) and ``dispatch._arguments`` (what a call passes) are
    written apart: they must not drift."""
    bound = Sample.resolve("/index")
    assert bound is not None
    assert bound.signature.accepted is None  # it takes **kwargs: it is offered everything
    assert set(_arguments(bound, {"docs": docs()}, {}, None)) == {"docs", *OFFERED}
