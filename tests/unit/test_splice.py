"""The hot path's messages read at the top level (``framing``, ``gateway.splice``, ``replica_streams.result_parts``)
give what protobuf's parser and serializer give."""

from __future__ import annotations

import pytest

from docwire.gateway.replica_streams import result_parts
from docwire.gateway.replies import gateway_route
from docwire.gateway.splice import as_bytes, reply_code, request_head, route_bytes
from docwire_contract.codec import varint_bytes
from docwire_contract.errors import BadRequest
from docwire_contract.framing import data_field, joined, spans
from docwire_contract.v1 import executor_pb2, request_pb2


def _request() -> request_pb2.DataRequest:
    request = request_pb2.DataRequest()
    request.header.request_id = "abc"
    request.header.exec_endpoint = "/index"
    request.header.timeout = 300_000  # a varint of more than one byte in a nested field
    request.parameters.update({"k": 1, "nested": {"a": [1, 2]}})
    request.routes.add(executor="e")
    request.data.docs_bytes = bytes(range(256)) * 1000  # lengths of several varint bytes
    return request


def test_spans_find_every_top_level_field_and_its_value() -> None:
    request = _request()
    raw = request.SerializeToString()
    found = spans(raw)
    assert [span.number for span in found] == [1, 2, 3, 4]
    assert found[-1].end == len(raw)
    assert request_pb2.Header.FromString(joined(raw, found, 1)) == request.header
    assert request_pb2.DataContent.FromString(raw[found[3].value : found[3].end]) == request.data
    sequence = executor_pb2.ProcessResult(sequence=300).SerializeToString()
    assert [(span.number, span.varint) for span in spans(sequence)] == [(1, 300)]


@pytest.mark.parametrize("broken", [b"\x0a\x05abc", b"\x0a", b"\x0b\x00", b"\x80"])
def test_spans_refuse_what_is_not_a_message(broken: bytes) -> None:
    with pytest.raises(ValueError, match=r"runs past the end|not supported here"):
        spans(broken)


def test_a_field_that_occurs_twice_is_merged_as_the_parser_merges_it() -> None:
    first = request_pb2.DataRequest(header=request_pb2.Header(request_id="x"))
    second = request_pb2.DataRequest(header=request_pb2.Header(exec_endpoint="/y"))
    second.header.status.code = request_pb2.Status.CODE_ERROR
    raw = first.SerializeToString() + second.SerializeToString()
    assert request_pb2.Header.FromString(joined(raw, spans(raw), 1)) == request_pb2.DataRequest.FromString(raw).header
    assert reply_code(raw) == request_pb2.Status.CODE_ERROR
    assert reply_code(memoryview(raw)) == request_pb2.Status.CODE_ERROR


def test_request_head_is_the_request_without_its_documents() -> None:
    request = _request()
    head = request_head(request.SerializeToString())
    without_data = request_pb2.DataRequest()
    without_data.CopyFrom(request)
    without_data.ClearField("data")
    assert head.message == without_data
    assert head.whole() == request
    with pytest.raises(BadRequest, match=r"not a valid docwire\.v1\.DataRequest"):
        request_head(b"\x0a\x05abc")


def test_documents_that_do_not_parse_are_found_when_the_request_is_parsed_whole() -> None:
    head = request_head(b"\x0a\x00" + data_field(4, b"\x0a\x05ab"))  # data holds a truncated field
    assert head.message.header == request_pb2.Header()
    with pytest.raises(BadRequest):
        head.whole()


def test_route_bytes_are_protobufs_own() -> None:
    for start, end in ((1_700_000_000_123_456_789, 1_700_000_001_000_000_000), (0, 5), (1_000_000_000, 2)):
        expected = request_pb2.DataRequest()
        route = expected.routes.add(executor="gateway")
        route.start_time.FromNanoseconds(start)
        route.end_time.FromNanoseconds(end)
        assert route_bytes(start, end) == expected.SerializeToString()
    reply = request_pb2.DataRequest.FromString(route_bytes(10) + _request().SerializeToString())
    assert [r.executor for r in reply.routes] == ["gateway", "e"]
    assert reply.routes[0].start_time == gateway_route(10).routes[0].start_time


def test_result_parts_give_the_reply_bytes_or_the_error() -> None:
    reply = _request().SerializeToString()
    result = executor_pb2.ProcessResult(sequence=7).SerializeToString() + b"\x12" + varint_bytes(len(reply)) + reply
    sequence, outcome = result_parts(result)
    assert sequence == 7
    assert isinstance(outcome, memoryview)
    assert as_bytes(outcome) == reply  # the reply as the executor wrote it (a map's order is not re-serialized)
    assert request_pb2.DataRequest.FromString(as_bytes(outcome)) == executor_pb2.ProcessResult.FromString(result).reply
    failed = executor_pb2.ProcessResult(sequence=8, error=executor_pb2.CallError(code=3, details="no", error_class="X"))
    assert result_parts(failed.SerializeToString()) == (8, failed.error)
    with pytest.raises(ValueError, match="without an outcome"):
        result_parts(executor_pb2.ProcessResult(sequence=9).SerializeToString())
