"""The document codec: docarray's wire format, both ways, and errors that name the field."""

# docarray's tensor annotations (NdArray, NdArray[3]) are runtime generics mypy cannot read.
# mypy: disable-error-code="type-arg, valid-type"

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from docarray import BaseDoc, DocList
from docarray.base_doc import AnyDoc
from docarray.base_doc.doc import BaseDocWithoutId
from docarray.documents.legacy import LegacyDocument
from docarray.proto import DocListProto, DocProto
from docarray.typing import (
    ID,
    AnyEmbedding,
    AnyTensor,
    ImageBytes,
    ImageNdArray,
    ImageUrl,
    NdArray,
    NdArrayEmbedding,
    TextUrl,
)
from pydantic import ConfigDict, Field, PrivateAttr, field_validator

from docwire_client.inputs import RequestSpec, build_request
from docwire_contract.codec import decode_doc, decode_docs, encode_doc, encode_docs
from docwire_contract.doc_types import Document
from docwire_contract.errors import BadRequest, DocumentSchemaError
from docwire_contract.v1 import document_pb2, request_pb2

# --------------------------------------------------------------------- schemas


class TextEmbedding(BaseDoc):
    text: str
    embedding: NdArrayEmbedding


class Inner(BaseDoc):
    label: str
    score: float = 0.0


class Outer(BaseDoc):
    title: str
    inner: Inner
    maybe_inner: Inner | None = None
    many: DocList[Inner]
    maybe_many: DocList[Inner] | None = None


class Scalars(BaseDoc):
    flag: bool
    count: int
    ratio: float
    raw: bytes
    maybe_text: str | None = None
    maybe_count: int | None = None


class Containers(BaseDoc):
    names: list[str]
    numbers: list[int]
    pair: tuple[int, str]
    labels: set[str]
    mapping: dict[str, Any]
    nested: dict[str, list[float]]
    # docarray reads the items of typing.List[X] as X, but not those of list[X].
    docs_in_list: typing.List[Inner] = Field(default_factory=list)  # noqa: UP006
    anything: Any = None


class Tensors(BaseDoc):
    f32: NdArray
    f16: NdArray
    i64: NdArray
    u8: ImageNdArray
    matrix: NdArray
    scalar: NdArray
    shaped: NdArray[3]
    any_tensor: AnyTensor
    any_embedding: AnyEmbedding
    maybe: NdArray | None = None
    big_endian: NdArray


class Typed(BaseDoc):
    url: ImageUrl
    text_url: TextUrl | None = None
    image: ImageBytes
    ref: ID
    either: int | str


class Shouting(BaseDoc):
    """A class with a validator: always built through pydantic."""

    text: str

    @field_validator("text")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class Short(BaseDoc):
    short: str = Field(max_length=5)


class Plain(BaseDocWithoutId):
    value: int


class Open(BaseDoc):
    """Extra fields travel; docarray's decoding drops them again."""

    model_config = ConfigDict(extra="allow")  # type: ignore[assignment]
    text: str


class WithPrivate(BaseDoc):
    text: str
    _cache: dict[str, int] = PrivateAttr(default_factory=dict)


def _rng() -> np.random.Generator:
    return np.random.default_rng(7)


def text_embeddings() -> list[BaseDoc]:
    rng = _rng()
    return [TextEmbedding(text=f"doc {i}", embedding=rng.random(8, dtype=np.float32)) for i in range(4)]


def legacy_documents() -> list[BaseDoc]:
    rng = _rng()
    match = LegacyDocument(
        text="match",
        embedding=rng.random(4),
        scores={"cosine": {"value": 0.25, "op_name": "cosine"}},
        tags={"rank": 1},
    )
    chunk = LegacyDocument(
        text="chunk",
        tensor=rng.random((2, 3)).astype(np.float32),
        chunks=DocList[LegacyDocument]([LegacyDocument(text="grandchild", blob=b"\x00\x01")]),
    )
    tags = {"str": "x", "int": 3, "float": 1.5, "bool": True, "list": [1, "a", None], "dict": {"k": [2.5]}}
    return [
        LegacyDocument(
            text="root",
            url="https://example.com/a.png",
            embedding=rng.random(6).astype(np.float32),
            tensor=np.arange(6, dtype=np.int64).reshape(2, 3),
            tags=tags,
            scores={"score": {"value": 0.5}},
            matches=DocList[LegacyDocument]([match, LegacyDocument(text="second match")]),
            chunks=DocList[LegacyDocument]([chunk]),
        ),
        LegacyDocument(),
        LegacyDocument(matches=DocList[LegacyDocument]([]), chunks=DocList[LegacyDocument]([])),
    ]


def outers() -> list[BaseDoc]:
    return [
        Outer(
            title="outer",
            inner=Inner(label="in", score=2.0),
            maybe_inner=Inner(label="maybe"),
            many=DocList[Inner]([Inner(label="a"), Inner(label="b", score=1.5)]),
            maybe_many=DocList[Inner]([]),
        ),
        Outer(title="sparse", inner=Inner(label="only"), many=DocList[Inner]([])),
    ]


def scalars() -> list[BaseDoc]:
    return [
        Scalars(flag=True, count=-(2**31), ratio=-1.25, raw=b"\xff", maybe_text="t", maybe_count=2**31 - 1),
        # Defaults of the wire types must survive as values, not turn into None.
        Scalars(flag=False, count=0, ratio=0.0, raw=b"", maybe_text="", maybe_count=0),
    ]


def containers() -> list[BaseDoc]:
    return [
        Containers(
            names=["a", "b"],
            numbers=[1, 2, 3],
            pair=(1, "one"),
            labels={"x"},
            mapping={"text": "v", "number": 4, "list": [1, [2, 3]], "tuple": (1, 2), "none": None},
            nested={"a": [1.0, 2.0], "b": []},
            docs_in_list=[Inner(label="listed")],
            anything=[{"deep": (True, b"bytes")}],
        ),
        Containers(names=[], numbers=[], pair=(0, ""), labels=set(), mapping={}, nested={}),
    ]


def tensors() -> list[BaseDoc]:
    rng = _rng()
    return [
        Tensors(
            f32=rng.random(5, dtype=np.float32),
            f16=rng.random(5).astype(np.float16),
            i64=np.arange(-3, 3, dtype=np.int64),
            u8=rng.integers(0, 255, size=(4, 4, 3), dtype=np.uint8),
            matrix=rng.random((3, 4)),
            scalar=np.array(3.5, dtype=np.float32),
            shaped=np.array([1, 2, 3], dtype=np.int32),
            any_tensor=rng.random((2, 2)),
            any_embedding=rng.random(3, dtype=np.float32),
            maybe=np.array([True, False]),
            big_endian=np.arange(3, dtype=">i4"),
        )
    ]


def typed_values() -> list[BaseDoc]:
    return [
        Typed(url="https://e.com/cat.png", text_url="https://e.com/a.txt", image=b"png", ref="r1", either=3),
        Typed(url="https://e.com/dog.jpg", image=b"", ref="r2", either="three"),
    ]


def shouting() -> list[BaseDoc]:
    return [Shouting(text="quiet")]


def open_docs() -> list[BaseDoc]:
    return [Open(text="a", more=1)]


def with_private() -> list[BaseDoc]:
    return [WithPrivate(text="a")]


def plain() -> list[BaseDoc]:
    # The codec takes any docarray document, with or without an id.
    return typing.cast("list[BaseDoc]", [Plain(value=7)])


ROUND_TRIPS = [
    pytest.param(TextEmbedding, text_embeddings, id="text-embedding"),
    pytest.param(LegacyDocument, legacy_documents, id="legacy-document"),
    pytest.param(Outer, outers, id="nested-docs-and-doclists"),
    pytest.param(Scalars, scalars, id="scalars-and-none"),
    pytest.param(Containers, containers, id="lists-dicts-tuples-sets"),
    pytest.param(Tensors, tensors, id="tensor-dtypes-and-shapes"),
    pytest.param(Typed, typed_values, id="urls-bytes-id-union"),
    pytest.param(Shouting, shouting, id="class-with-validator"),
    pytest.param(Open, open_docs, id="extra-fields-allowed"),
    pytest.param(WithPrivate, with_private, id="private-attributes"),
    pytest.param(Plain, plain, id="doc-without-id"),
]
# AnyDoc invents an id for a message without one, so that case cannot compare.
ANYDOC_ROUND_TRIPS = [case for case in ROUND_TRIPS if case.values[0] is not Plain]

# ---------------------------------------------------------------------- helpers


def docarray_encode(docs: Sequence[BaseDocWithoutId]) -> bytes:
    return bytes(DocListProto(docs=[doc.to_protobuf() for doc in docs]).SerializeToString())


def docarray_decode(data: bytes, doc_type: type[BaseDocWithoutId]) -> DocList[Any]:
    return DocList[doc_type].from_protobuf(DocListProto.FromString(data))


def wire(data: bytes) -> document_pb2.DocList:
    return document_pb2.DocList.FromString(data)


def assert_same(ours: Any, theirs: Any, path: str = "doc", *, exact: bool = True) -> None:
    """Same classes, same values, all the way down (tensors by dtype, shape and content).

    ``exact`` also compares what pydantic records about how a document was built.
    """
    assert type(ours) is type(theirs), f"{path}: {type(ours)} is not {type(theirs)}"
    if isinstance(theirs, np.ndarray):
        assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape), path
        np.testing.assert_array_equal(ours, theirs, err_msg=path)
        assert ours.flags.writeable, f"{path}: decoded tensors are writable"
    elif isinstance(theirs, BaseDocWithoutId):
        assert list(ours.__dict__) == list(theirs.__dict__), path
        if exact:
            assert ours.__pydantic_fields_set__ == theirs.__pydantic_fields_set__, path
            assert ours.__pydantic_extra__ == theirs.__pydantic_extra__, path
            assert ours.__pydantic_private__ == theirs.__pydantic_private__, path
        for name, value in theirs.__dict__.items():
            assert_same(ours.__dict__[name], value, f"{path}.{name}", exact=exact)
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), path
        for position, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(mine, other, f"{path}[{position}]", exact=exact)
    elif isinstance(theirs, dict):
        assert ours.keys() == theirs.keys(), path
        for key, value in theirs.items():
            assert_same(ours[key], value, f"{path}[{key!r}]", exact=exact)
    else:
        assert ours == theirs, path


Factory = Callable[[], list[BaseDoc]]

# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize(("doc_type", "make"), ROUND_TRIPS)
def test_our_bytes_are_docarrays_bytes(doc_type: type[BaseDoc], make: Factory) -> None:
    docs = make()
    assert wire(encode_docs(docs)) == wire(docarray_encode(docs))


@pytest.mark.parametrize(("doc_type", "make"), ROUND_TRIPS)
def test_docarray_decodes_what_we_encode(doc_type: type[BaseDoc], make: Factory) -> None:
    docs = make()
    decoded = docarray_decode(encode_docs(docs), doc_type)
    assert_same(decoded, docarray_decode(docarray_encode(docs), doc_type))
    assert_same(list(decoded), docs, exact=False)


@pytest.mark.parametrize(("doc_type", "make"), ROUND_TRIPS)
def test_we_decode_what_docarray_encodes(doc_type: type[BaseDoc], make: Factory) -> None:
    data = docarray_encode(make())
    ours = decode_docs(data, doc_type)
    assert ours.doc_type is doc_type
    assert_same(ours, docarray_decode(data, doc_type))


@pytest.mark.parametrize(("doc_type", "make"), ANYDOC_ROUND_TRIPS)
def test_anydoc_reads_every_field_like_docarray(doc_type: type[BaseDoc], make: Factory) -> None:
    data = docarray_encode(make())
    ours = decode_docs(data, AnyDoc)
    assert_same(ours, docarray_decode(data, AnyDoc))
    # What AnyDoc read goes back on the wire unchanged.
    assert wire(encode_docs(ours)) == wire(data)


@pytest.mark.parametrize(("doc_type", "make"), ROUND_TRIPS)
def test_single_document_round_trip(doc_type: type[BaseDoc], make: Factory) -> None:
    for doc in make():
        message = encode_doc(doc)
        assert message == document_pb2.Doc.FromString(doc.to_protobuf().SerializeToString())
        theirs = doc_type.from_protobuf(DocProto.FromString(message.SerializeToString()))
        assert_same(decode_doc(message, doc_type), theirs)


def test_decoded_documents_have_the_declared_classes() -> None:
    doc = decode_docs(encode_docs(legacy_documents()), LegacyDocument)[0]
    assert isinstance(doc, LegacyDocument)
    classes = {name: type(getattr(doc, name)) for name in ("embedding", "tensor", "id")}
    # AnyEmbedding and AnyTensor fields hold docarray's numpy classes.
    assert classes == {"embedding": NdArrayEmbedding, "tensor": NdArray, "id": ID}
    assert doc.matches is not None
    assert doc.matches.doc_type is LegacyDocument
    assert doc.matches[0].scores == {"cosine": {"value": 0.25, "op_name": "cosine"}}


def test_empty_doclist_round_trips() -> None:
    assert encode_docs([]) == b""
    assert list(decode_docs(b"", TextEmbedding)) == []
    assert list(decode_docs(docarray_encode([]), TextEmbedding)) == []
    assert list(docarray_decode(encode_docs(DocList[TextEmbedding]([])), TextEmbedding)) == []


# ----------------------------------------------------- decoding into another schema


class Numbers(BaseDoc):
    value: int
    extra: str = "kept out"


class Floats(BaseDoc):
    value: float


class WithDefaults(BaseDoc):
    value: int
    tags: dict[str, Any] = Field(default_factory=dict)
    note: str | None = "default"


class RawEmbedding(BaseDoc):
    text: str
    embedding: NdArray


class ListEmbedding(BaseDoc):
    text: str
    embedding: list[float]


CROSS_SCHEMA = [
    pytest.param([Numbers(value=3)], Floats, "value", 3.0, id="int-coerced-to-float"),
    pytest.param([Floats(value=2.0)], Numbers, "value", 2, id="whole-float-coerced-to-int"),
    pytest.param([Numbers(value=3, extra="x")], WithDefaults, "value", 3, id="unknown-dropped-defaulted"),
    pytest.param([TextEmbedding(text="t", embedding=np.ones(1))], Shouting, "text", "T", id="validator-runs"),
    pytest.param(
        [RawEmbedding(text="t", embedding=np.ones(2))],
        TextEmbedding,
        "embedding",
        np.ones(2).view(NdArrayEmbedding),
        id="sent-as-ndarray-read-as-declared-tensor-class",
    ),
    pytest.param(
        [ListEmbedding(text="t", embedding=[1.0, 2.0])],
        TextEmbedding,
        "embedding",
        np.array([1.0, 2.0]).view(NdArrayEmbedding),
        id="list-read-as-tensor-like-pydantic-does",
    ),
]


@pytest.mark.parametrize(("docs", "doc_type", "field", "expected"), CROSS_SCHEMA)
def test_decoding_into_another_schema_follows_docarray(
    docs: list[BaseDoc], doc_type: type[BaseDoc], field: str, expected: Any
) -> None:
    data = encode_docs(docs)
    ours = decode_docs(data, doc_type)
    assert_same(ours, docarray_decode(data, doc_type))
    assert_same(getattr(ours[0], field), expected)


def test_absent_fields_take_fresh_defaults() -> None:
    message = document_pb2.Doc()
    message.data["text"].text = "only text"
    first, second = decode_doc(message, LegacyDocument), decode_doc(message, LegacyDocument)
    assert first.tags == {}
    assert first.tags is not second.tags  # a mutable default is copied, as pydantic does
    assert first.embedding is None
    assert first.id != second.id  # an absent id is a new random one
    assert first.__pydantic_fields_set__ == {"text"}


# ----------------------------------- defaults, fields_set, documents built without pydantic


class MyDict(dict[str, Any]):
    """An empty default of a dict subclass is deep-copied: the copy keeps the class."""


class Defaults(BaseDoc):
    text: str | None = None
    count: int = 0
    flag: bool = False
    note: str | None = "default"
    empty_dict: dict[str, Any] = {}  # noqa: RUF012 - the mutable defaults are the point
    empty_list: list[int] = []  # noqa: RUF012
    empty_set: set[str] = set()  # noqa: RUF012
    nested: dict[str, list[int]] = {"a": [1, 2]}  # noqa: RUF012
    rows: list[list[int]] = [[1], [2]]  # noqa: RUF012
    subclassed: dict[str, Any] = MyDict()
    shared: tuple[int, ...] = (1, 2)
    made: list[str] = Field(default_factory=lambda: ["made"])


MUTABLE_DEFAULTS = ("empty_dict", "empty_list", "empty_set", "nested", "rows", "subclassed", "made")


def _only(doc: BaseDoc, *names: str) -> document_pb2.Doc:
    """``doc``'s message with only the named fields left in it."""
    message = encode_doc(doc)
    for name in list(message.data):
        if name not in names:
            del message.data[name]
    return message


def _two_of(message: document_pb2.Doc) -> bytes:
    return document_pb2.DocList(docs=[message, message]).SerializeToString()


def _comparable(value: Any) -> Any:
    """A ``model_dump`` with tensors turned into what ``==`` can compare."""
    if isinstance(value, np.ndarray):
        return (type(value), value.dtype, value.shape, value.tolist())
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_comparable(item) for item in value)
    return value


def _dumped(doc: BaseDoc, *exclude: str) -> Any:
    return _comparable(doc.model_dump(exclude=set(exclude)))


# The codec reads a message holding few of the declared fields key by key, a fuller one
# field by field: the cases below take one way each.
DEFAULTS_KEPT = [
    pytest.param(("text",), id="few-fields"),
    pytest.param(("id", "text", "count", "flag", "note"), id="most-fields"),
]


@pytest.mark.parametrize("kept", DEFAULTS_KEPT)
def test_absent_mutable_defaults_are_fresh_deep_copies(kept: tuple[str, ...]) -> None:
    data = _two_of(_only(Defaults(text="t", count=3, note=None), *kept))
    first, second = decode_docs(data, Defaults)
    absent_id = () if "id" in kept else ("id",)
    for ours, theirs in zip((first, second), docarray_decode(data, Defaults), strict=True):
        assert _dumped(ours, *absent_id) == _dumped(theirs, *absent_id)
        assert ours.__pydantic_fields_set__ == theirs.__pydantic_fields_set__ == set(kept)
        assert list(ours.__dict__) == list(theirs.__dict__)
    for name in MUTABLE_DEFAULTS:
        mine, other = getattr(first, name), getattr(second, name)
        assert mine is not other, name
        assert mine is not Defaults.model_fields[name].default, name
        assert type(mine) is type(getattr(Defaults(), name)), name
    assert type(first.subclassed) is MyDict
    # Deep copies, as pydantic makes of an unhashable default: nothing inside is shared.
    assert first.nested["a"] is not second.nested["a"]
    assert first.rows[0] is not second.rows[0]
    first.empty_dict["k"] = 1
    first.nested["a"].append(3)
    first.rows[0].append(3)
    assert (second.empty_dict, second.nested, second.rows) == ({}, {"a": [1, 2]}, [[1], [2]])
    assert (Defaults().nested, Defaults().rows) == ({"a": [1, 2]}, [[1], [2]])
    # A hashable default is shared, as pydantic shares it.
    assert first.shared is second.shared is Defaults.model_fields["shared"].default
    assert first.shared is Defaults().shared


DOCUMENT_KEPT = [
    pytest.param((), id="nothing"),
    pytest.param(("id",), id="id"),
    pytest.param(("id", "embedding"), id="id-embedding"),
    pytest.param(("text", "tags"), id="text-tags"),
    pytest.param(("id", "text", "url", "embedding"), id="four"),
    pytest.param(tuple(name for name in Document.model_fields if name != "tags"), id="all-but-tags"),
    pytest.param(tuple(Document.model_fields), id="all"),
]


@pytest.mark.parametrize("kept", DOCUMENT_KEPT)
def test_fields_set_is_what_pydantic_init_records(kept: tuple[str, ...]) -> None:
    full = Document(text="t", url="https://e.com/a", embedding=np.ones(3, dtype=np.float32), tags={"k": [1]})
    message = _only(full, *kept)
    ours = decode_doc(message, Document)
    theirs = Document.from_protobuf(DocProto.FromString(message.SerializeToString()))
    by_init = Document(**{name: getattr(theirs, name) for name in kept})
    assert ours.__pydantic_fields_set__ == theirs.__pydantic_fields_set__ == by_init.__pydantic_fields_set__
    assert ours.__pydantic_fields_set__ == set(kept)
    assert list(ours.__dict__) == list(theirs.__dict__) == list(Document.model_fields)
    absent_id = () if "id" in kept else ("id",)
    assert _dumped(ours, *absent_id) == _dumped(theirs, *absent_id)
    if "id" in kept:
        assert_same(ours, theirs)


@pytest.mark.parametrize(
    "docs",
    [
        pytest.param([TextEmbedding(text="t", embedding=np.ones(2)) for _ in range(2)], id="few-fields"),
        pytest.param([Document(text="t"), Document(text="u")], id="all-fields"),
    ],
)
def test_documents_share_no_mutable_state(docs: list[BaseDoc]) -> None:
    first, second = decode_docs(encode_docs(docs), Document)
    assert first.__pydantic_fields_set__ is not second.__pydantic_fields_set__
    assert first.tags is not second.tags
    assert first.tags == second.tags == {}
    before = set(second.__pydantic_fields_set__)
    first.url = "https://e.com/changed"  # pydantic records the assignment in fields_set
    first.tags["k"] = 1
    assert "url" in first.__pydantic_fields_set__
    assert second.__pydantic_fields_set__ == before
    assert second.tags == {}


class AlphaFirst(BaseDoc):
    alpha: NdArray | None = None
    beta: NdArray | None = None
    c: str | None = None
    d: str | None = None
    e: str | None = None
    f: str | None = None
    g: str | None = None
    h: str | None = None


class BetaFirst(BaseDoc):
    beta: NdArray | None = None
    alpha: NdArray | None = None
    c: str | None = None
    d: str | None = None
    e: str | None = None
    f: str | None = None
    g: str | None = None
    h: str | None = None


@pytest.mark.parametrize("extra", [pytest.param((), id="few-fields"), pytest.param("cdefgh", id="most-fields")])
@pytest.mark.parametrize(("doc_type", "reported"), [(AlphaFirst, "alpha"), (BetaFirst, "beta")])
def test_the_first_declared_bad_field_is_reported(
    doc_type: type[BaseDoc], reported: str, extra: tuple[str, ...]
) -> None:
    # Whatever order the message's map yields its keys in, one of the two classes sees
    # its second field first.
    message = document_pb2.Doc()
    for name in ("alpha", "beta", *extra):
        message.data[name].text = "not a tensor"
    with pytest.raises(DocumentSchemaError, match=rf"^field '{reported}' of {doc_type.__name__} expects a tensor"):
        decode_doc(message, doc_type)


def test_decoded_tensors_are_independent_writable_copies() -> None:
    message = encode_doc(TextEmbedding(text="t", embedding=np.arange(6, dtype=np.float32).reshape(2, 3)))
    first, second = decode_doc(message, TextEmbedding), decode_doc(message, TextEmbedding)
    assert type(first.embedding) is NdArrayEmbedding
    assert first.embedding.shape == (2, 3)
    assert first.embedding.flags.c_contiguous
    assert first.embedding.flags.writeable
    assert not np.shares_memory(first.embedding, second.embedding)
    # Built on the copied bytes: no array or memoryview in between for the GC to track.
    assert not isinstance(first.embedding.base, (np.ndarray, memoryview))
    first.embedding[0, 0] = 42
    np.testing.assert_array_equal(decode_doc(message, TextEmbedding).embedding, np.arange(6).reshape(2, 3))


class Marked(NdArray):
    """A tensor class with its own ``__array_finalize__``: decoded tensors go through it."""

    def __array_finalize__(self, obj: Any) -> None:
        self.marked = True


class WithMarked(BaseDoc):
    tensor: Marked


def test_tensor_classes_with_their_own_array_finalize_are_finalized() -> None:
    data = encode_docs([WithMarked(tensor=np.arange(3, dtype=np.float32))])
    (ours,) = decode_docs(data, WithMarked)
    assert_same(ours, docarray_decode(data, WithMarked)[0])
    assert type(ours.tensor) is Marked
    assert ours.tensor.marked


def test_plain_text_id_is_an_id() -> None:
    message = document_pb2.Doc()
    message.data["id"].text = "plain"
    message.data["label"].text = "x"
    doc = decode_doc(message, Inner)
    assert (type(doc.id), doc.id) == (ID, "plain")


class BuiltinListOfDocs(BaseDoc):
    docs: list[Inner]


def test_builtin_generic_list_of_documents_reads_its_items() -> None:
    # docarray itself refuses this one (it only unpacks typing.List[X]).
    data = encode_docs([BuiltinListOfDocs(docs=[Inner(label="a"), Inner(label="b")])])
    (doc,) = decode_docs(data, BuiltinListOfDocs)
    assert [type(item) for item in doc.docs] == [Inner, Inner]
    assert [item.label for item in doc.docs] == ["a", "b"]


# -------------------------------------------------------------- tensors on the wire


def _tensor_doc(buffer: bytes, shape: Sequence[int], dtype: str, type_name: str | None) -> document_pb2.Doc:
    message = document_pb2.Doc()
    node = message.data["f"]
    node.ndarray.dense.buffer = buffer
    node.ndarray.dense.shape.extend(shape)
    node.ndarray.dense.dtype = dtype
    if type_name is not None:
        node.type = type_name
    return message


class OneTensor(BaseDoc):
    f: AnyTensor | None = None


def test_empty_tensor_keeps_its_dtype() -> None:
    doc = decode_doc(_tensor_doc(b"", [0, 3], "<f2", "ndarray"), OneTensor)
    assert doc.f is not None
    assert doc.f.shape == (0, 3)
    assert doc.f.dtype == np.dtype(np.float16)


def test_tensor_without_type_reads_as_ndarray() -> None:
    doc = decode_doc(_tensor_doc(np.arange(4, dtype="<i2").tobytes(), [2, 2], "<i2", None), OneTensor)
    assert type(doc.f) is NdArray
    np.testing.assert_array_equal(doc.f, [[0, 1], [2, 3]])


# ------------------------------------------------------------------------ errors


class TextAsEmbedding(BaseDoc):
    text: str
    embedding: str


class NoText(BaseDoc):
    embedding: NdArrayEmbedding


class DocAsText(BaseDoc):
    text: Inner
    embedding: NdArrayEmbedding


class LongShort(BaseDoc):
    short: str


class BadMatch(BaseDoc):
    embedding: str


class LegacyWithBadMatches(BaseDoc):
    matches: DocList[BadMatch]


def _with_bad_fourth(bad: BaseDoc) -> bytes:
    return encode_docs([*text_embeddings()[:3], bad])


def _bad_second_match() -> bytes:
    matches = DocList[BadMatch]([BadMatch(embedding="[1]"), BadMatch(embedding="x")])
    return encode_docs([LegacyWithBadMatches(matches=matches)])


DECODE_ERRORS = [
    pytest.param(
        _with_bad_fourth(TextAsEmbedding(text="t", embedding="hello")),
        TextEmbedding,
        ["document 3: field 'embedding' of TextEmbedding expects a tensor (NdArrayEmbedding), got text"],
        id="text-for-tensor",
    ),
    pytest.param(
        _with_bad_fourth(NoText(embedding=np.zeros(2))),
        TextEmbedding,
        ["document 3: field 'text' of TextEmbedding is required but missing"],
        id="missing-required-field",
    ),
    pytest.param(
        _with_bad_fourth(DocAsText(text=Inner(label="x"), embedding=np.zeros(2))),
        TextEmbedding,
        ["document 3: field 'text' of TextEmbedding expects text (str), got a document"],
        id="document-for-text",
    ),
    pytest.param(
        encode_docs([Inner(label="toolong")]),
        Short,
        ["document 0: field 'short' of Short is required but missing"],
        id="missing-constrained-field",
    ),
    pytest.param(
        encode_docs([LongShort(short="far too long")]),
        Short,
        ["document 0: field 'short' of Short expects text (str), got text", "at most 5 characters"],
        id="value-pydantic-rejects",
    ),
    pytest.param(
        _bad_second_match(),
        LegacyDocument,
        [
            "document 0: field 'matches[1].embedding' of LegacyDocument",
            "expects a tensor (AnyEmbedding) or None, got text",
        ],
        id="nested-document-field",
    ),
]


@pytest.mark.parametrize(("data", "doc_type", "fragments"), DECODE_ERRORS)
def test_documents_that_do_not_fit_name_document_and_field(
    data: bytes, doc_type: type[BaseDoc], fragments: list[str]
) -> None:
    with pytest.raises(DocumentSchemaError) as caught:
        decode_docs(data, doc_type)
    for fragment in fragments:
        assert fragment in str(caught.value)


TENSOR_ERRORS = [
    pytest.param(b"\x00" * 7, [2], "<f4", "malformed tensor", id="buffer-not-a-multiple-of-the-item"),
    pytest.param(b"\x00" * 8, [3], "<f4", "malformed tensor", id="buffer-does-not-fit-shape"),
    pytest.param(b"\x00" * 8, [2], "<zz", "unknown dtype '<zz'", id="unknown-dtype"),
    pytest.param(b"\x00" * 8, [1], "|O", "cannot travel as bytes", id="object-dtype"),
    pytest.param(b"", [1000, 1000], "<f4", "without data", id="shape-without-data"),
    pytest.param(b"", [], "<f4", "neither data nor shape", id="empty-tensor-message"),
]


@pytest.mark.parametrize(("buffer", "shape", "dtype", "fragment"), TENSOR_ERRORS)
@pytest.mark.parametrize("type_name", ["ndarray", None])
def test_malformed_tensors_are_schema_errors(
    buffer: bytes, shape: list[int], dtype: str, fragment: str, type_name: str | None
) -> None:
    data = document_pb2.DocList(docs=[_tensor_doc(buffer, shape, dtype, type_name)]).SerializeToString()
    with pytest.raises(DocumentSchemaError, match=r"^document 0: field 'f' of OneTensor ") as caught:
        decode_docs(data, OneTensor)
    assert fragment in str(caught.value)


def _invalid_utf8() -> bytes:
    data = encode_docs([Inner(label="zzz")])  # "z" is never in a hex id
    return data.replace(b"zzz", b"z\xffz")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xff\xff\xff\xff", id="garbage"),
        pytest.param(encode_docs(text_embeddings())[:-5], id="truncated"),
        pytest.param(_invalid_utf8(), id="invalid-utf8"),
    ],
)
def test_malformed_bytes_are_bad_requests(data: bytes) -> None:
    with pytest.raises(BadRequest, match="cannot be parsed") as caught:
        decode_docs(data, TextEmbedding)
    assert not isinstance(caught.value, DocumentSchemaError)


def test_decode_doc_errors_name_the_field_without_an_index() -> None:
    message = encode_doc(TextAsEmbedding(text="t", embedding="x"))
    with pytest.raises(DocumentSchemaError, match=r"^field 'embedding' of TextEmbedding expects a tensor"):
        decode_doc(message, TextEmbedding)


def test_doc_type_must_be_a_document_class() -> None:
    with pytest.raises(TypeError, match="docarray document class"):
        decode_docs(b"", dict)  # type: ignore[type-var]


class Loose(BaseDoc):
    anything: Any = None
    mapping: dict[Any, Any] = Field(default_factory=dict)


def _cyclic() -> Loose:
    doc = Loose()
    doc.anything = [doc]
    return doc


ENCODE_ERRORS = [
    pytest.param(Loose(anything=2**40), "field 'anything' of Loose cannot be encoded", id="int-over-int32"),
    pytest.param(Loose(mapping={1: "a"}), "field 'mapping' of Loose cannot be encoded: dict", id="int-key"),
    pytest.param(Loose(anything=[1, object()]), "field 'anything[1]' of Loose cannot be encoded", id="obj"),
    pytest.param(
        Loose(anything={"t": np.array([None], dtype=object)}),
        "field 'anything['t']' of Loose cannot be encoded: a tensor of Python objects",
        id="object-tensor",
    ),
    pytest.param({"not": "a document"}, "expects a docarray document", id="not-a-document"),
    pytest.param(_cyclic(), "cyclic reference", id="cyclic-reference"),
]


@pytest.mark.parametrize(("bad", "fragment"), ENCODE_ERRORS)
def test_values_the_wire_cannot_carry_are_schema_errors(bad: Any, fragment: str) -> None:
    with pytest.raises(DocumentSchemaError, match=r"^document 2: ") as caught:
        encode_docs([Loose(), Loose(), bad])
    assert fragment in str(caught.value)


def _texts_of_growing_length(n_docs: int) -> list[Document]:
    return [Document(text="x" * (i * 37)) for i in range(n_docs)]


def _uniform_embeddings(n_docs: int) -> list[Document]:
    """Documents the codec writes a batch at a time, the envelope into the same buffer."""
    return [Document(embedding=np.full(16, i, dtype=np.float32)) for i in range(n_docs)]


@pytest.mark.parametrize(
    "spec",
    [
        RequestSpec("/index", {"k": 1}, "exec.*", 250),
        RequestSpec("/"),
        RequestSpec("/" + "e" * 200, {"long": "v" * 300}, timeout_ms=300_000),  # lengths of two varint bytes
    ],
)
@pytest.mark.parametrize("make", [_texts_of_growing_length, _uniform_embeddings])
@pytest.mark.parametrize("n_docs", [0, 1, 3, 100])
def test_build_request_gives_protobufs_own_bytes(
    n_docs: int, make: Callable[[int], list[Document]], spec: RequestSpec
) -> None:
    """The request is assembled by hand around the documents; it must be what protobuf itself writes."""
    docs = make(n_docs)
    request_id, raw = build_request(spec, docs)
    message = request_pb2.DataRequest.FromString(raw)
    assert message.header.request_id == request_id
    assert message.SerializeToString() == raw
    assert message.data.docs_bytes == encode_docs(docs)
