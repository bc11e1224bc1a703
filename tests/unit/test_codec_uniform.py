"""Uniform batches: the codec's batch-at-a-time path gives what the document-at-a-time path gives.

A list of at least eight documents whose records share one layout (ids of one length,
tensors of one shape, ...) is encoded and decoded a batch at a time. Every test here
compares that path with the general one (``encode_docs`` of an iterator, ``decode_doc``
per message), checks that it was taken (or refused) where it should be, and that errors
are still the general path's.
"""

# docarray's tensor annotations are runtime generics mypy cannot read.
# mypy: disable-error-code="type-arg, valid-type"

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from docarray import BaseDoc, DocList
from docarray.typing import ID, AnyTensor, ImageNdArray, NdArray, NdArrayEmbedding
from pydantic import ConfigDict, PrivateAttr, field_validator

from docwire_contract.codec import _plans as plans
from docwire_contract.codec import _uniform_decoding as uniform_decoding
from docwire_contract.codec import _uniform_encoding as uniform_encoding
from docwire_contract.codec import decode_doc, decode_docs, encode_docs, reencodes_unchanged
from docwire_contract.doc_types import Document
from docwire_contract.errors import BadRequest, DocumentSchemaError
from docwire_contract.v1 import document_pb2

N = 12  # above the codec's minimum batch size

# --------------------------------------------------------------------- schemas


class EmbedDoc(BaseDoc):
    embedding: NdArray


class TextEmbedding(BaseDoc):
    text: str
    embedding: NdArrayEmbedding


class Mixed(BaseDoc):
    score: float
    matrix: AnyTensor
    image: ImageNdArray
    half: NdArray
    big_endian: NdArray
    note: str | None = None
    tags: dict[str, Any] = {}  # noqa: RUF012 - pydantic copies it per document
    names: list[str] = []  # noqa: RUF012


class OnlyText(BaseDoc):
    text: str


class Scalar(BaseDoc):
    value: NdArray


class ExtraAllowed(BaseDoc):
    # each document gets its own __pydantic_extra__ dict
    model_config = ConfigDict(extra="allow")  # type: ignore[assignment]

    embedding: NdArray


class Shouting(BaseDoc):
    text: str

    @field_validator("text")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class PostInit(BaseDoc):
    text: str
    _length: int = PrivateAttr(default=0)

    def model_post_init(self, context: Any, /) -> None:
        self._length = len(self.text)


class Aaa(BaseDoc):
    aaa: str


class Bbb(BaseDoc):
    bbb: str


def _rng() -> np.random.Generator:
    return np.random.default_rng(11)


def embed_docs(n: int = N) -> list[BaseDoc]:
    block = _rng().random((n, 16), dtype=np.float32)
    return [EmbedDoc(embedding=row) for row in block]


def text_embeddings(n: int = N) -> list[BaseDoc]:
    rng = _rng()
    return [TextEmbedding(text=f"text {i:03d}", embedding=rng.random(8, dtype=np.float32)) for i in range(n)]


def documents(n: int = N) -> list[BaseDoc]:
    rng = _rng()
    return [Document(embedding=rng.random(4).astype(np.float32)) for _ in range(n)]


def mixed(n: int = N) -> list[BaseDoc]:
    rng = _rng()
    return [
        Mixed(
            score=float(i) / 3,
            matrix=rng.random((2, 3)),
            image=rng.integers(0, 255, size=(2, 2, 3), dtype=np.uint8),
            half=rng.random(5).astype(np.float16),
            big_endian=np.arange(i, i + 3, dtype=">i4"),
        )
        for i in range(n)
    ]


def scalars(n: int = N) -> list[BaseDoc]:
    return [Scalar(value=np.array(i / 4, dtype=np.float32)) for i in range(n)]


def extra_allowed(n: int = N) -> list[BaseDoc]:
    return [ExtraAllowed(embedding=row) for row in _rng().random((n, 4), dtype=np.float32)]


def non_ascii(n: int = N) -> list[BaseDoc]:
    return [OnlyText(text=f"héllo {i:02d}") for i in range(n)]


def empty_texts(n: int = N) -> list[BaseDoc]:
    return [OnlyText(text="") for _ in range(n)]


def post_init(n: int = N) -> list[BaseDoc]:
    return [PostInit(text=f"t{i:02d}") for i in range(n)]


Factory = Callable[[], list[BaseDoc]]

UNIFORM = [
    pytest.param(EmbedDoc, embed_docs, id="id-and-embedding"),
    pytest.param(TextEmbedding, text_embeddings, id="text-and-embedding-class"),
    pytest.param(Document, documents, id="default-document"),
    pytest.param(Mixed, mixed, id="floats-tensors-none-empty-containers"),
    pytest.param(PostInit, post_init, id="model-post-init"),
    pytest.param(OnlyText, empty_texts, id="empty-texts"),
    pytest.param(Scalar, scalars, id="zero-dimensional-tensors"),
    pytest.param(ExtraAllowed, extra_allowed, id="extra-allowed"),
]

# --------------------------------------------------------------------- helpers


def general_encode(docs: Sequence[BaseDoc]) -> bytes:
    """The document-at-a-time path (an iterator never takes the batch path)."""
    return encode_docs(iter(docs))


def general_decode(data: bytes, doc_type: type[BaseDoc]) -> list[Any]:
    """The document-at-a-time path: one message at a time."""
    return [decode_doc(message, doc_type) for message in document_pb2.DocList.FromString(data).docs]


def uniform_decoding_taken(data: bytes, doc_type: type[BaseDoc]) -> bool:
    plan = plans.plan_of(doc_type)
    return isinstance(plan, plans.TypedPlan) and uniform_decoding.decode_uniform(data, plan) is not None


def assert_same(ours: Any, theirs: Any, path: str = "doc") -> None:
    """Same classes and values all the way down, and the same pydantic bookkeeping."""
    assert type(ours) is type(theirs), f"{path}: {type(ours)} is not {type(theirs)}"
    if isinstance(theirs, np.ndarray):
        assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape), path
        np.testing.assert_array_equal(ours, theirs, err_msg=path)
        assert ours.flags.writeable, f"{path}: decoded tensors are writable"
    elif isinstance(theirs, BaseDoc):
        assert list(ours.__dict__) == list(theirs.__dict__), path
        assert ours.__pydantic_fields_set__ == theirs.__pydantic_fields_set__, path
        assert ours.__pydantic_extra__ == theirs.__pydantic_extra__, path
        assert ours.__pydantic_private__ == theirs.__pydantic_private__, path
        for name, value in theirs.__dict__.items():
            assert_same(ours.__dict__[name], value, f"{path}.{name}")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), path
        for position, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(mine, other, f"{path}[{position}]")
    elif isinstance(theirs, dict):
        assert ours.keys() == theirs.keys(), path
        for key, value in theirs.items():
            assert_same(ours[key], value, f"{path}[{key!r}]")
    else:
        assert ours == theirs, path


def wire(data: bytes) -> document_pb2.DocList:
    return document_pb2.DocList.FromString(data)


def _message(docs: Sequence[BaseDoc]) -> document_pb2.DocList:
    return wire(general_encode(docs))


# --------------------------------------------------------------------- encoding


@pytest.mark.parametrize(("doc_type", "make"), UNIFORM)
def test_batch_encoding_writes_what_protobuf_writes(doc_type: type[BaseDoc], make: Factory) -> None:
    docs = make()
    assert uniform_encoding.encode_uniform(docs) is not None, "the batch path was not taken"
    ours = encode_docs(docs)
    assert wire(ours) == wire(general_encode(docs))
    assert encode_docs(DocList[doc_type](docs)) == ours


@pytest.mark.parametrize(
    "docs",
    [
        pytest.param([OnlyText(text="x" * (i % 3 + 1)) for i in range(N)], id="texts-of-several-lengths"),
        pytest.param(non_ascii(), id="non-ascii-text"),
        pytest.param(
            [*embed_docs(N - 1), EmbedDoc(embedding=np.zeros(8, dtype=np.float64))], id="other-dtype-same-size"
        ),
        pytest.param([*embed_docs(N - 1), EmbedDoc(embedding=np.zeros((4, 4), dtype=np.float32))], id="other-shape"),
        pytest.param([*embed_docs(N - 1), TextEmbedding(text="a", embedding=np.zeros(4))], id="several-classes"),
        pytest.param(embed_docs(uniform_encoding.UNIFORM_MIN_DOCS - 1), id="too-few-documents"),
        pytest.param([Document(), *(Document(embedding=np.ones(3)) for _ in range(N))], id="none-then-tensors"),
        pytest.param(
            [OnlyText(text=f"{i:02d}") for i in range(N - 1)] + [OnlyText.model_construct(text=ID("ab"))],
            id="str-and-id",
        ),
    ],
)
def test_other_batches_are_encoded_document_by_document(docs: list[BaseDoc]) -> None:
    if len(docs) >= uniform_encoding.UNIFORM_MIN_DOCS:
        assert uniform_encoding.encode_uniform(docs) is None
    assert wire(encode_docs(docs)) == wire(general_encode(docs))


def test_batch_encoding_errors_name_the_document_as_before() -> None:
    docs = embed_docs()
    docs[5] = EmbedDoc(embedding=np.array([object()] * 16, dtype=object))
    with pytest.raises(DocumentSchemaError, match=r"document 5: field 'embedding'"):
        encode_docs(docs)
    docs = embed_docs()
    docs[0] = EmbedDoc(embedding=np.array([object()] * 16, dtype=object))
    with pytest.raises(DocumentSchemaError, match=r"document 0: field 'embedding'"):
        encode_docs(docs)


# --------------------------------------------------------------------- decoding


@pytest.mark.parametrize(("doc_type", "make"), UNIFORM)
def test_batch_decoding_builds_what_the_general_path_builds(doc_type: type[BaseDoc], make: Factory) -> None:
    data = encode_docs(make())
    assert uniform_decoding_taken(data, doc_type)
    ours = decode_docs(data, doc_type)
    assert ours.doc_type is doc_type
    assert_same(list(ours), general_decode(data, doc_type))


@pytest.mark.parametrize(("doc_type", "make"), UNIFORM)
def test_decoded_tensors_and_containers_belong_to_one_document(doc_type: type[BaseDoc], make: Factory) -> None:
    first, second = decode_docs(encode_docs(make()), doc_type)[:2]
    assert first.__pydantic_fields_set__ is not second.__pydantic_fields_set__
    assert first.__pydantic_extra__ is None or first.__pydantic_extra__ is not second.__pydantic_extra__
    for name, value in first.__dict__.items():
        other = second.__dict__[name]
        if isinstance(value, np.ndarray):
            assert not np.shares_memory(value, other), name
            value[...] = 0  # writable, and the neighbour keeps its values
            assert not np.array_equal(value, other) or not other.any(), name
        elif isinstance(value, (dict, list)):
            assert value is not other, name


@pytest.mark.parametrize(
    ("make", "doc_type"),
    [
        pytest.param(documents, EmbedDoc, id="undeclared-fields-dropped"),
        pytest.param(embed_docs, Document, id="absent-fields-defaulted"),
        pytest.param(embed_docs, TextEmbedding, id="required-field-missing-goes-to-pydantic"),
        pytest.param(text_embeddings, Shouting, id="class-with-validator"),
        pytest.param(non_ascii, OnlyText, id="non-ascii-text-of-one-byte-length"),
    ],
)
def test_decoding_into_another_schema_is_the_general_paths(make: Factory, doc_type: type[BaseDoc]) -> None:
    data = encode_docs(make())
    try:
        expected: list[Any] | type[Exception] = general_decode(data, doc_type)
    except DocumentSchemaError:
        expected = DocumentSchemaError
    if expected is DocumentSchemaError:
        with pytest.raises(DocumentSchemaError, match=r"document 0: "):
            decode_docs(data, doc_type)
    else:
        assert_same(list(decode_docs(data, doc_type)), expected)


def test_layouts_of_one_record_size_do_not_mix() -> None:
    first = encode_docs([Aaa(aaa=f"{i:03d}") for i in range(N)])
    second = encode_docs([Bbb(bbb=f"{i:03d}") for i in range(N)])
    assert len(first) == len(second)
    for data, doc_type, name in ((first, Aaa, "aaa"), (second, Bbb, "bbb"), (first, Aaa, "aaa"), (second, Aaa, "")):
        decoded = decode_docs(data, doc_type) if name else None
        if decoded is not None:
            assert [getattr(doc, name) for doc in decoded] == [f"{i:03d}" for i in range(N)]
        else:
            with pytest.raises(DocumentSchemaError, match=r"'aaa'.*required"):
                decode_docs(data, doc_type)


def _retyped(docs: Sequence[BaseDoc], change: Callable[[document_pb2.Doc], None]) -> bytes:
    """The batch's wire form after ``change`` was applied to every document's message."""
    message = _message(docs)
    for doc in message.docs:
        change(doc)
    return message.SerializeToString()


def _shape_without_data(doc: document_pb2.Doc) -> None:
    dense = doc.data["embedding"].ndarray.dense
    del dense.shape[:]
    dense.shape.append(99)


def test_malformed_tensors_fail_as_in_the_general_path() -> None:
    data = _retyped(embed_docs(), _shape_without_data)
    with pytest.raises(DocumentSchemaError, match=r"document 0: field 'embedding'.*malformed tensor"):
        decode_docs(data, EmbedDoc)


def test_invalid_utf8_is_refused_as_in_the_general_path() -> None:
    data = bytearray(encode_docs(text_embeddings()))
    broken = bytes(data).replace(b"text 000", b"text \xff00")
    assert broken != bytes(data)
    with pytest.raises(BadRequest, match="cannot be parsed"):
        decode_docs(broken, TextEmbedding)
    assert not reencodes_unchanged(broken, TextEmbedding)


# ------------------------------------------------------------------ re-encoding


def _dtype_spelled_out(doc: document_pb2.Doc) -> None:
    doc.data["embedding"].ndarray.dense.dtype = "float32"


def _typed_as_embedding(doc: document_pb2.Doc) -> None:
    doc.data["embedding"].type = "ndarray_embedding"


def test_canonical_batches_reencode_unchanged() -> None:
    data = encode_docs(embed_docs())
    assert reencodes_unchanged(data, EmbedDoc)
    assert wire(encode_docs(decode_docs(data, EmbedDoc))) == wire(data)
    assert reencodes_unchanged(encode_docs(documents()), Document)
    assert reencodes_unchanged(encode_docs(text_embeddings()), TextEmbedding)


@pytest.mark.parametrize(
    ("data", "doc_type"),
    [
        pytest.param(encode_docs(embed_docs(uniform_encoding.UNIFORM_MIN_DOCS - 1)), EmbedDoc, id="too-few-documents"),
        pytest.param(encode_docs(documents()), EmbedDoc, id="undeclared-fields"),
        pytest.param(encode_docs(embed_docs()), Document, id="declared-fields-missing"),
        pytest.param(encode_docs(embed_docs()), TextEmbedding, id="required-field-missing"),
        pytest.param(encode_docs(text_embeddings()), Shouting, id="validator"),
        pytest.param(encode_docs(post_init()), PostInit, id="model-post-init"),
        pytest.param(_retyped(embed_docs(), _dtype_spelled_out), EmbedDoc, id="dtype-not-as-numpy-spells-it"),
        pytest.param(_retyped(embed_docs(), _typed_as_embedding), EmbedDoc, id="other-tensor-class"),
        pytest.param(encode_docs([OnlyText(text="x" * (i % 3 + 1)) for i in range(N)]), OnlyText, id="not-uniform"),
    ],
)
def test_other_batches_do_not_claim_to_reencode_unchanged(data: bytes, doc_type: type[BaseDoc]) -> None:
    assert not reencodes_unchanged(data, doc_type)
