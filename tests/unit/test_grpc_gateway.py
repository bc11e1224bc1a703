"""The gateway core over gRPC: the call's context as the core reads it, its errors as call statuses, and Jina's
method paths served by the same handlers (no sockets).

The core is a GatewayServicer with no executors, so every request fails with EndpointNotFound
without any I/O; the ServicerContext is a mock with grpc.aio's own signatures.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast
from unittest.mock import create_autospec

import grpc
import pytest

from docwire.gateway.context import Metadata, RequestContext
from docwire.gateway.service import GatewayServicer
from docwire.transports.grpc_gateway import GATEWAY_SERVICE_NAMES, JINA_ALIASES, GrpcContext, gateway_handler
from docwire_contract.conventions import ERROR_METADATA_KEY
from docwire_contract.jina import jina_pb2
from docwire_contract.methods import GATEWAY_SERVICE
from docwire_contract.v1 import request_pb2

_PROCESS_DATA = "/jina.JinaDataRequestRPC/process_data"


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
    core = GatewayServicer([], prefetch, dict)
    await core.discover(1.0)
    return core


async def test_requests_before_discovery_are_refused_not_passed_through() -> None:
    """The gRPC port opens before discovery ends; until then no executor is known, so a request
    would come back untouched as if served: it gets UNAVAILABLE instead."""
    context = _servicer_context()
    with pytest.raises(_Aborted):
        await _behaviour(GatewayServicer([], 1, dict), "Post")(_request(), context)
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
    core = GatewayServicer([], 1, lambda: {"docwire": "1.0"})
    context = _servicer_context()
    status = await _behaviour(core, "Status")(None, context)
    assert dict(status.versions) == {"docwire": "1.0"}
    dry_run = await _behaviour(core, "DryRun")(None, context)
    assert dry_run.code == request_pb2.Status.CODE_SUCCESS
    assert _method(core, "Endpoints").response_serializer is request_pb2.EndpointsInfo.SerializeToString
    assert await _behaviour(core, "Endpoints")(None, context) is core.endpoints_info


# ---------------------------------------------------------------- Jina's method paths (proto/jina)


def _handler_at(core: GatewayServicer, path: str) -> grpc.RpcMethodHandler[Any, Any]:
    handler = gateway_handler(core).service(_Details(path))
    assert handler is not None, path
    return handler


def test_every_jina_path_is_served_by_the_gateway_service_rpc_it_names() -> None:
    core = GatewayServicer([], 1, dict)
    handler = gateway_handler(core)
    assert JINA_ALIASES == {
        "/jina.JinaSingleDocumentRequestRPC/stream_doc": "StreamDoc",
        "/jina.JinaGatewayDryRunRPC/dry_run": "DryRun",
        "/jina.JinaInfoRPC/_status": "Status",
        "/jina.JinaDiscoverEndpointsRPC/endpoint_discovery": "Endpoints",
    }
    for path, rpc in JINA_ALIASES.items():
        assert handler.service(_Details(path)) is handler.service(_Details(f"/{GATEWAY_SERVICE}/{rpc}"))
    assert _handler_at(core, "/jina.JinaRPC/Call").stream_stream is not None
    assert _handler_at(core, "/jina.JinaDataRequestRPC/process_data").unary_unary is not None
    assert _handler_at(core, "/jina.JinaSingleDataRequestRPC/process_single_data").unary_unary is not None
    assert handler.service(_Details("/jina.JinaExecutorSnapshot/snapshot")) is None


def test_reflection_and_health_list_docwire_then_jina_services() -> None:
    assert GATEWAY_SERVICE_NAMES == (
        GATEWAY_SERVICE,
        "jina.JinaSingleDataRequestRPC",
        "jina.JinaRPC",
        "jina.JinaDataRequestRPC",
        "jina.JinaSingleDocumentRequestRPC",
        "jina.JinaGatewayDryRunRPC",
        "jina.JinaDiscoverEndpointsRPC",
        "jina.JinaInfoRPC",
    )


@pytest.mark.parametrize("count", [0, 2])
async def test_process_data_refuses_a_list_of_other_than_one_request(count: int) -> None:
    request = request_pb2.DataRequest(header=request_pb2.Header(request_id="r1"))
    raw = jina_pb2.DataRequestList(requests=[request] * count).SerializeToString()
    context = _servicer_context()
    behaviour = cast(
        Callable[..., Awaitable[Any]], _handler_at(GatewayServicer([], 1, dict), _PROCESS_DATA).unary_unary
    )
    with pytest.raises(_Aborted):
        await behaviour(raw, context)
    code, details = context.abort.call_args.args
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == f"process_data takes a list of exactly one request here, not {count}"


async def test_process_data_refuses_bytes_that_are_not_a_list_naming_them() -> None:
    context = _servicer_context()
    behaviour = cast(
        Callable[..., Awaitable[Any]], _handler_at(GatewayServicer([], 1, dict), _PROCESS_DATA).unary_unary
    )
    with pytest.raises(_Aborted):
        await behaviour(b"\x0a\x05ab", context)  # a request of 5 bytes, 2 of them sent
    code, details = context.abort.call_args.args
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "the request list" in details


async def test_process_data_posts_the_one_request() -> None:
    raw = jina_pb2.DataRequestList(requests=[request_pb2.DataRequest.FromString(_request())]).SerializeToString()
    context = _servicer_context()
    behaviour = cast(Callable[..., Awaitable[Any]], _handler_at(await _discovered(1), _PROCESS_DATA).unary_unary)
    with pytest.raises(_Aborted):
        await behaviour(raw, context)
    assert context.abort.call_args.args[0] == grpc.StatusCode.NOT_FOUND  # Post's EndpointNotFound: no executors


class _RecordingCore(GatewayServicer):
    """Records what ``stream`` was called with and answers nothing."""

    def __init__(self) -> None:
        super().__init__([], 1, dict)
        self.streams: list[tuple[Metadata, int | None, bool]] = []

    async def stream(
        self,
        requests: AsyncIterator[bytes],
        context: RequestContext,
        *,
        prefetch: int | None = None,
        in_order: bool = False,
    ) -> AsyncGenerator[bytes, None]:
        self.streams.append((context.metadata(), prefetch, in_order))
        return
        yield b""


@pytest.mark.parametrize(
    ("metadata", "prefetch", "in_order"),
    [
        ([("__results_in_order__", "true"), ("__prefetch__", "7")], 7, True),
        ([("__results_in_order__", "false"), ("__prefetch__", "0")], None, False),
        ([("__prefetch__", "many")], None, False),
        ([], None, False),
    ],
)
async def test_call_reads_jinas_call_options_and_keeps_them_from_the_executors(
    metadata: list[tuple[str, str]], prefetch: int | None, in_order: bool
) -> None:
    core = _RecordingCore()
    context = _servicer_context([*metadata, ("authorization", "Bearer x")])
    await cast(Callable[..., Awaitable[Any]], _handler_at(core, "/jina.JinaRPC/Call").stream_stream)(
        _requests(), context
    )
    assert core.streams == [((("authorization", "Bearer x"),), prefetch, in_order)]
