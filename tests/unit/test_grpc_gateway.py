"""The gateway core over gRPC: the call's context as the core reads it, and its errors as call statuses (no sockets).

The core is a GatewayServicer with no executors, so every request fails with EndpointNotFound
without any I/O; the ServicerContext is a mock with grpc.aio's own signatures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast
from unittest.mock import create_autospec

import grpc
import pytest

from docwire.gateway.service import GatewayServicer
from docwire.transports.grpc_gateway import GrpcContext, gateway_handler
from docwire_contract.conventions import ERROR_METADATA_KEY
from docwire_contract.methods import GATEWAY_SERVICE
from docwire_contract.v1 import request_pb2


class _Aborted(Exception):
    """What the mock context's ``abort`` raises, as grpc.aio's raises AbortError."""


def _servicer_context(
    metadata: Sequence[tuple[str, str | bytes]] = (), peer: str = "ipv4:127.0.0.1:5555", remaining: float | None = None
) -> Any:
    context = create_autospec(grpc.aio.ServicerContext, instance=True)
    context.invocation_metadata.return_value = tuple(metadata)
    context.peer.return_value = peer
    context.time_remaining.return_value = remaining
    context.cancelled.return_value = False
    context.abort.side_effect = _Aborted
    return context


class _Details(grpc.HandlerCallDetails):
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


def _method(core: GatewayServicer, name: str) -> grpc.RpcMethodHandler[Any, Any]:
    handler = gateway_handler(core).service(_Details(f"/{GATEWAY_SERVICE}/{name}"))
    assert handler is not None
    return handler


def _behaviour(core: GatewayServicer, name: str) -> Callable[..., Awaitable[Any]]:
    """The coroutine function grpc.aio calls for rpc ``name`` (grpc's stubs type it as a plain function)."""
    handler = _method(core, name)
    behaviour = handler.unary_unary or handler.unary_stream or handler.stream_stream
    assert behaviour is not None
    return cast(Callable[..., Awaitable[Any]], behaviour)


def _request(endpoint: str = "/search") -> bytes:
    return request_pb2.DataRequest(
        header=request_pb2.Header(request_id="r1", exec_endpoint=endpoint)
    ).SerializeToString()


def test_the_metadata_leaves_out_grpc_hop_and_binary_entries_and_is_read_once() -> None:
    context = _servicer_context(
        [
            ("authorization", "Bearer x"),
            ("user-agent", "grpc-python"),
            ("grpc-accept-encoding", "gzip"),
            (":authority", "localhost"),
            ("trace-bin", b"\x00"),
            ("x-tenant", "a"),
        ]
    )
    neutral = GrpcContext(context)
    assert neutral.metadata() == (("authorization", "Bearer x"), ("x-tenant", "a"))
    assert neutral.metadata() is neutral.metadata()
    context.invocation_metadata.assert_called_once_with()


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        ("ipv4:127.0.0.1:5555", "127.0.0.1:5555"),
        ("ipv6:%5B::1%5D:5555", "[::1]:5555"),
        ("ipv6:[::1]:5555", "[::1]:5555"),
        ("unix:/tmp/gateway.sock", "unix:/tmp/gateway.sock"),
    ],
)
def test_the_peer_is_host_and_port(peer: str, expected: str) -> None:
    assert GrpcContext(_servicer_context(peer=peer)).peer() == expected


def test_the_deadline_and_the_cancellation_are_the_calls() -> None:
    context = _servicer_context(remaining=1.5)
    neutral = GrpcContext(context)
    assert neutral.time_remaining() == 1.5
    assert not neutral.cancelled()
    context.cancelled.return_value = True
    assert neutral.cancelled()
    assert GrpcContext(_servicer_context()).time_remaining() is None


async def _discovered(prefetch: int) -> GatewayServicer:
    """A core with no executors whose (empty) discovery is done, as the gateway process has it."""
    core = GatewayServicer([], prefetch, {})
    await core.discover(1.0)
    return core


async def test_requests_before_discovery_are_refused_not_passed_through() -> None:
    """The gRPC port opens before discovery ends; until then no executor is known, so a request
    would come back untouched as if served: it gets UNAVAILABLE instead."""
    context = _servicer_context()
    with pytest.raises(_Aborted):
        await _behaviour(GatewayServicer([], 1, {}), "Post")(_request(), context)
    code, details = context.abort.call_args.args
    assert code == grpc.StatusCode.UNAVAILABLE
    assert "the Flow is starting" in details


async def test_a_failed_post_ends_the_call_with_its_code_and_names_its_class() -> None:
    context = _servicer_context()
    with pytest.raises(_Aborted):
        await _behaviour(await _discovered(1), "Post")(_request(), context)
    context.set_trailing_metadata.assert_called_once_with(((ERROR_METADATA_KEY, "EndpointNotFound"),))
    code, details = context.abort.call_args.args
    assert code == grpc.StatusCode.NOT_FOUND
    assert "no executor serves endpoint '/search'" in details


async def _requests(*raw: bytes) -> AsyncIterator[bytes]:
    for each in raw:
        yield each


async def test_a_stream_answers_a_failing_request_in_its_reply_and_goes_on() -> None:
    context = _servicer_context()
    await _behaviour(await _discovered(2), "Stream")(_requests(_request(), _request()), context)
    assert context.write.await_count == 2
    reply = request_pb2.DataRequest.FromString(context.write.await_args.args[0])
    assert reply.header.request_id == "r1"
    assert reply.header.status.exception.name == "EndpointNotFound"
    context.abort.assert_not_called()


async def test_bytes_that_are_not_a_request_end_a_stream_with_invalid_argument() -> None:
    context = _servicer_context()
    with pytest.raises(_Aborted):
        await _behaviour(await _discovered(1), "Stream")(_requests(b"\xff"), context)
    context.set_trailing_metadata.assert_called_once_with(((ERROR_METADATA_KEY, "BadRequest"),))
    assert context.abort.call_args.args[0] == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_stream_doc_to_no_executor_ends_with_not_found() -> None:
    context = _servicer_context()
    request = request_pb2.SingleDocumentRequest(header=request_pb2.Header(exec_endpoint="/gen"))
    with pytest.raises(_Aborted):
        await _behaviour(await _discovered(1), "StreamDoc")(request.SerializeToString(), context)
    context.set_trailing_metadata.assert_called_once_with(((ERROR_METADATA_KEY, "EndpointNotFound"),))
    context.write.assert_not_called()


async def test_status_dry_run_and_endpoints_answer_typed_messages() -> None:
    core = GatewayServicer([], 1, {"docwire": "1.0"})
    context = _servicer_context()
    status = await _behaviour(core, "Status")(None, context)
    assert dict(status.versions) == {"docwire": "1.0"}
    dry_run = await _behaviour(core, "DryRun")(None, context)
    assert dry_run.code == request_pb2.Status.CODE_SUCCESS
    assert _method(core, "Endpoints").response_serializer is request_pb2.EndpointsInfo.SerializeToString
    assert await _behaviour(core, "Endpoints")(None, context) is core.endpoints_info
