"""The executor's read of a ProcessCall around its documents, and the reply written around them."""

from __future__ import annotations

import numpy as np
import pytest
from docarray import BaseDoc
from docarray.typing import NdArray

from docwire.runtime.call_splice import data_pieces, spliced_call
from docwire_contract.codec import encode_docs, reencodes_unchanged
from docwire_contract.v1 import executor_pb2, request_pb2


class Embedded(BaseDoc):
    embedding: NdArray  # type: ignore[type-arg]


DOCS = encode_docs([Embedded(embedding=np.full(16, i, dtype=np.float32)) for i in range(10)])


def _request(**data: object) -> request_pb2.DataRequest:
    request = request_pb2.DataRequest()
    request.header.request_id = "r1"
    request.header.exec_endpoint = "/index"
    request.parameters.update({"top_k": 3})
    request.routes.add(executor="gateway")
    for name, value in data.items():
        setattr(request.data, name, value)
    return request


def _call(request: request_pb2.DataRequest, sequence: int = 7) -> bytes:
    return executor_pb2.ProcessCall(sequence=sequence, request=request, traceparent="00-ab-cd-01").SerializeToString()


def test_the_head_is_parsed_and_the_documents_stay_a_view() -> None:
    request = _request(docs_bytes=DOCS)
    raw = _call(request)
    spliced = spliced_call(raw)
    assert spliced is not None
    assert spliced.sequence == 7
    assert isinstance(spliced.docs, memoryview)
    assert spliced.docs.obj is raw  # not copied
    assert bytes(spliced.docs) == DOCS
    expected_head = request_pb2.DataRequest()
    expected_head.CopyFrom(request)
    expected_head.ClearField("data")
    assert spliced.head == expected_head


@pytest.mark.parametrize("docs", [DOCS, b""], ids=["documents", "empty"])
def test_the_reply_written_around_the_documents_is_protobufs_own(docs: bytes) -> None:
    request = _request(docs_bytes=docs)
    spliced = spliced_call(_call(request))
    assert spliced is not None
    spliced.head.routes.add(executor="exec")
    request.routes.add(executor="exec")
    assert b"".join((spliced.head.SerializeToString(), *data_pieces(spliced.docs))) == request.SerializeToString()


def test_the_calls_trace_context_is_read_as_a_parse_reads_it() -> None:
    request = _request(docs_bytes=DOCS)
    traced = executor_pb2.ProcessCall(sequence=1, request=request, traceparent="00-ab-cd-01", tracestate="k=v")
    untraced = executor_pb2.ProcessCall(sequence=2, request=request)
    for call in (traced, untraced):
        spliced = spliced_call(call.SerializeToString())
        assert spliced is not None
        assert (spliced.traceparent, spliced.tracestate) == (call.traceparent, call.tracestate)
    not_text = untraced.SerializeToString() + b"\x1a\x02\xff\xfe"  # traceparent (3) that is not UTF-8
    assert spliced_call(not_text) is None  # left to the parse, which refuses it


def test_other_shapes_are_left_to_the_whole_message() -> None:
    as_message = _request()
    as_message.data.docs.ParseFromString(DOCS)
    repeated = _call(_request(docs_bytes=DOCS)) + _call(_request(docs_bytes=DOCS))
    for raw in (
        _call(as_message),  # documents as a DocList message
        _call(_request()),  # no data at all
        repeated,  # the request twice: protobuf merges them
        b"\x12\xff\xff",  # a length past the end
        executor_pb2.ProcessCall(sequence=1).SerializeToString(),  # no request
    ):
        assert spliced_call(raw) is None


def test_the_pass_through_check_reads_a_view_as_it_reads_bytes() -> None:
    raw = _call(_request(docs_bytes=DOCS))
    spliced = spliced_call(raw)
    assert spliced is not None
    assert reencodes_unchanged(spliced.docs, Embedded) is reencodes_unchanged(DOCS, Embedded) is True
