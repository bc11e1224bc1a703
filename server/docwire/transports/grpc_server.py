"""One way to build a docwire gRPC server: our services plus health and reflection.

Both the gateway and every executor worker serve through this, so probes and
grpcurl find the same things on either.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from docwire_contract.conventions import DEFAULT_MAX_MESSAGE_BYTES, ERROR_METADATA_KEY
from docwire_contract.errors import DocwireError

__all__ = [
    "GrpcServer",
    "PortUnavailable",
    "abort",
    "call_metadata",
    "channel_options",
    "forwarded_metadata",
    "server_credentials",
    "start_grpc_server",
]


class PortUnavailable(OSError):
    """A server's address cannot be bound (another process holds the port, or the host is not this machine's);
    the message names the address, the protocol and the system's reason."""


#: What a ProcessStream message adds around a DataRequest, at most (tags, lengths, the sequence), with room
#: to spare: the gateway's channels to executors and the executors' servers allow this much above the limit,
#: so a request the gateway took fits its ProcessCall (the limit itself is the gateway's to enforce).
PROCESS_STREAM_FRAMING_BYTES = 64


def channel_options(max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> list[tuple[str, int]]:
    """Message-size options shared by servers and channels."""
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]


@dataclass(slots=True)
class GrpcServer:
    """A started server, the port it is bound to, and its health servicer."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: tuple[str, ...]

    async def set_serving(self, serving: bool) -> None:
        """Reports SERVING (or NOT_SERVING) for the server and each of its services."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self.service_names):
            await self.health.set(name, status)

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stops accepting calls and waits up to ``grace`` seconds for those under way."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


def server_credentials(certfile: str, keyfile: str) -> grpc.ServerCredentials:
    """TLS credentials for a server from a PEM certificate (chain) file and its key file."""
    return grpc.ssl_server_credentials([(Path(keyfile).read_bytes(), Path(certfile).read_bytes())])


async def start_grpc_server(
    handlers: Sequence[grpc.GenericRpcHandler],
    service_names: Sequence[str],
    host: str,
    port: int,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    credentials: grpc.ServerCredentials | None = None,
    max_connection_age: float | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> GrpcServer:
    """Starts a grpc.aio server with ``handlers``, health checking and reflection.

    Health reports NOT_SERVING until the caller says otherwise with ``set_serving``.
    With ``credentials`` (``server_credentials(...)``) the port speaks TLS only, health and
    reflection included; without, plaintext. ``interceptors`` see every call (the gateway's
    token check is one). Port reuse is off, so a port already taken fails loudly instead of sharing.
    With ``max_connection_age`` (seconds) each connection is closed (GOAWAY) after that long: clients
    balancing over DNS resolve again when they reconnect, and so find replicas added since.

    Raises:
        PortUnavailable: the address cannot be bound.
    """
    options = [*channel_options(max_message_bytes), ("grpc.so_reuseport", 0)]
    if max_connection_age is not None:
        options.append(("grpc.max_connection_age_ms", int(max_connection_age * 1000)))
    server = grpc.aio.server(options=options, interceptors=tuple(interceptors) or None)
    server.add_generic_rpc_handlers(tuple(handlers))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = (
            server.add_insecure_port(address) if credentials is None else server.add_secure_port(address, credentials)
        )
    except RuntimeError as exc:  # gRPC says only that it failed; a socket of our own says why
        raise PortUnavailable(f"cannot bind {address} for gRPC: {_bind_problem(host, port) or exc}") from exc
    if bound == 0:
        problem = _bind_problem(host, port) or "the address is not available"
        raise PortUnavailable(f"cannot bind {address} for gRPC: {problem}")
    await server.start()
    started = GrpcServer(server, bound, health_servicer, tuple(service_names))
    await started.set_serving(False)
    return started


#: Headers that describe a hop, not the caller's request: never passed on to executors.
_HOP_HEADERS = frozenset({"user-agent", "content-type", "te", "host", "accept-encoding", "authority"})


def forwarded_metadata(pairs: Iterable[tuple[str, str | bytes]]) -> tuple[tuple[str, str], ...]:
    """The metadata pairs worth passing on to executors (for example ``authorization``).

    gRPC's own (``grpc-*``), HTTP/2 pseudo and hop headers are left out, and so are
    binary (``*-bin``) values.
    """
    return tuple(
        (key, value)
        for key, value in pairs
        if isinstance(value, str) and not key.startswith(("grpc-", ":")) and key not in _HOP_HEADERS
    )


def call_metadata(context: grpc.aio.ServicerContext[Any, Any]) -> tuple[tuple[str, str], ...]:
    """A call's metadata worth passing on (``forwarded_metadata``)."""
    return forwarded_metadata(context.invocation_metadata() or ())


async def abort(context: grpc.aio.ServicerContext[Any, Any], error: DocwireError) -> NoReturn:
    """Ends the call with the error's status code, naming its class in trailing metadata."""
    context.set_trailing_metadata(((ERROR_METADATA_KEY, type(error).__name__),))
    await context.abort(error.grpc_code, str(error))
    raise AssertionError("unreachable: context.abort raises")


def _bind_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound, as the system says it ("Address already in use"), or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds: TIME_WAIT is no clash
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None
