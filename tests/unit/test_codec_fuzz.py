"""Random and mutated bytes into the codec, the legacy translation and the request parsers: only the errors
they document come out (BadRequest, DocumentSchemaError), never another exception, and every error names
what was wrong. hypothesis drives it; ``make fuzz`` runs the same properties with many more examples."""

# docarray's tensor annotations are runtime generics mypy cannot read.
# mypy: disable-error-code="type-arg, valid-type"

from __future__ import annotations

import os

import numpy as np
import pytest
from docarray import BaseDoc, DocList
from docarray.typing import NdArray
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docwire_contract.codec import decode_docs, encode_docs
from docwire_contract.doc_types import Document
from docwire_contract.errors import BadRequest, DocumentSchemaError
from docwire_contract.legacy import request_from_legacy, requests_of_list
from docwire_contract.v1 import request_pb2

#: ``make fuzz`` sets DOCWIRE_FUZZ_EXAMPLES (thousands); ``make test`` keeps the default, a few hundred.
EXAMPLES = int(os.environ.get("DOCWIRE_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Scored(BaseDoc):
    text: str = ""
    count: int = 0
    embedding: NdArray | None = None
    tags: dict[str, str] = {}  # noqa: RUF012 - docarray copies defaults


def _valid_bytes() -> bytes:
    docs = DocList[Scored](
        [
            Scored(text="a", count=3, embedding=np.arange(4, dtype=np.float32), tags={"k": "v"}),
            Scored(text="b" * 40, count=-7),
        ]
    )
    return encode_docs(docs)


VALID = _valid_bytes()


@st.composite
def mutated(draw: st.DrawFn, valid: bytes = VALID) -> bytes:
    """``valid`` with a few bytes flipped, cut short, or spliced with random bytes."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "splice"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def _decoded_or_documented_error(data: bytes, doc_type: type[BaseDoc]) -> None:
    try:
        decode_docs(data, doc_type)
    except (BadRequest, DocumentSchemaError) as error:
        _names_its_cause(error)


def _names_its_cause(error: Exception) -> None:
    assert str(error), f"{type(error).__name__} must say what was wrong"


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_decode_or_fail_with_a_named_error(data: bytes) -> None:
    _decoded_or_documented_error(data, Scored)
    _decoded_or_documented_error(data, Document)


@FUZZ
@given(mutated())
def test_mutated_documents_decode_or_fail_with_a_named_error(data: bytes) -> None:
    _decoded_or_documented_error(data, Scored)
    _decoded_or_documented_error(data, Document)


def _request_bytes() -> bytes:
    request = request_pb2.DataRequest()
    request.header.request_id = "r1"
    request.header.exec_endpoint = "/index"
    request.parameters.update({"limit": 3})
    request.data.docs.ParseFromString(VALID)
    return request.SerializeToString()


@FUZZ
@given(st.one_of(st.binary(max_size=512), mutated(_request_bytes())))
def test_request_translation_and_lists_fail_only_with_bad_request(data: bytes) -> None:
    """What the gateway's Jina paths do with a request before the core sees it."""
    for step in (request_from_legacy, requests_of_list):
        try:
            step(data)
        except BadRequest as error:
            _names_its_cause(error)


@FUZZ
@given(mutated(_request_bytes()))
def test_a_request_that_parses_has_documents_that_decode_or_fail_by_name(data: bytes) -> None:
    """The executor's path: protobuf parses the envelope, the codec the documents inside it."""
    try:
        request = request_pb2.DataRequest.FromString(data)
    except DecodeError:
        return  # the runtime answers this with BadRequest ("not a valid docwire.v1.DataRequest")
    _decoded_or_documented_error(request.data.docs.SerializeToString(), Scored)


def test_the_valid_bytes_decode() -> None:
    """The premise of the mutations: what they start from decodes."""
    docs = decode_docs(VALID, Scored)
    assert [doc.text for doc in docs] == ["a", "b" * 40]
    assert docs[0].embedding is not None
    with pytest.raises(BadRequest):
        decode_docs(b"\x0a\x05ab", Scored)
