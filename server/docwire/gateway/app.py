"""The gateway process: ``python -m docwire.gateway.app --ready-fd N`` with a pickled GatewaySpec on stdin."""

from __future__ import annotations

import argparse
import functools
import logging
import platform
import sys
from typing import TYPE_CHECKING

import cloudpickle
import uvloop

from docwire.gateway.auth import TokenCheck
from docwire.gateway.router import ExecutorNode
from docwire.gateway.service import GatewayServicer
from docwire.gateway.shards import ExecutorPools
from docwire.gateway.spec import GatewaySpec
from docwire.observability.launch import start_gateway_observer
from docwire.runtime.lifecycle import configure_logging, report_ready, tune_garbage_collector, wait_for_stop_signal
from docwire.transports.grpc_auth import TokenInterceptor
from docwire.transports.grpc_gateway import GATEWAY_SERVICE_NAMES, PROTECTED_PATHS, gateway_handler
from docwire.transports.grpc_server import GrpcServer, PortUnavailable, server_credentials, start_grpc_server
from docwire.transports.tls import MutualTls

if TYPE_CHECKING:
    from docwire.transports.web_servers import WebServers

__all__ = ["main"]

logger = logging.getLogger("docwire.gateway")

PROTOCOL_VERSION = "docwire.v1"
#: How long a stopping gateway waits for the calls under way; the launcher kills it 10 s after asking it to stop.
DRAIN_SECONDS = 8.0


@functools.cache
def versions() -> dict[str, str]:
    """What Status reports (read on the first Status call: the package metadata takes a tenth of a second)."""
    from importlib import metadata  # noqa: PLC0415

    found = {"protocol": PROTOCOL_VERSION, "python": platform.python_version()}
    for package in ("docwire", "docwire-client", "grpcio", "protobuf", "docarray"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def executor_tls(spec: GatewaySpec, node: ExecutorNode) -> MutualTls | None:
    """How the gateway dials ``node``: mutual TLS (``spec.executor_tls``), or plaintext (None)."""
    return None if node.name in spec.plaintext_executors else spec.executor_tls


async def serve(spec: GatewaySpec, ready_fd: int | None) -> None:
    """Connects to the executors, then serves the Flow on every protocol until a stop signal.

    gRPC, HTTP and WebSocket share the process, the event loop and the gateway core: each
    transport calls the same core methods, with its own ``RequestContext``.
    """
    protocols = spec.protocols or ("grpc",)
    wanted = dict(zip(protocols, spec.ports or (spec.port,), strict=True))
    pools = [ExecutorPools(node, spec.max_message_bytes, executor_tls(spec, node)) for node in spec.executors]
    observer, monitoring_port = start_gateway_observer(spec.observability) or (None, None)
    servicer = GatewayServicer(pools, spec.prefetch, versions, observer, max_inflight=spec.max_inflight)
    grpc_server: GrpcServer | None = None
    web: WebServers | None = None
    credentials = None
    token_check = TokenCheck.configured(spec.auth_tokens)  # None: no token needed
    interceptors = [] if token_check is None else [TokenInterceptor(token_check, PROTECTED_PATHS)]
    if spec.ssl_certfile is not None and spec.ssl_keyfile is not None:
        credentials = server_credentials(spec.ssl_certfile, spec.ssl_keyfile)
    if "grpc" in wanted:
        grpc_server = await start_grpc_server(
            [gateway_handler(servicer)],
            GATEWAY_SERVICE_NAMES,
            spec.host,
            wanted["grpc"],
            max_message_bytes=spec.max_message_bytes,
            credentials=credentials,
            interceptors=interceptors,
        )
    await servicer.discover(spec.discovery_timeout)
    if "http" in wanted or "websocket" in wanted:
        # Each protocol's stack is loaded only where it is served: Starlette, uvicorn and docarray's
        # document JSON stay out of a gRPC-only gateway (GraphQL's loads on its first request).
        from docwire.transports.web_servers import start_web_servers  # noqa: PLC0415

        web = await start_web_servers(spec, servicer, wanted, token_check, versions().get("docwire", "0"))
    if grpc_server is not None:
        await grpc_server.set_serving(True)
    served = ({} if grpc_server is None else {"grpc": grpc_server.port}) | ({} if web is None else web.ports())
    bound = {name: served[name] for name in protocols}  # in the order the protocols were given
    logger.info("gateway serving %d executor(s) on %s%s", len(pools), bound, " over TLS" if spec.ssl_certfile else "")
    tune_garbage_collector()
    report_ready(ready_fd, bound[protocols[0]], bound, monitoring_port)

    async def stop() -> None:
        # Probes first: health says NOT_SERVING at once, so load balancers and Kubernetes stop sending here.
        if grpc_server is not None:
            await grpc_server.set_serving(False)
        # New calls are refused (UNAVAILABLE / 503); open streams answer what they took in, then end (clients
        # re-send the rest); the calls under way finish, for up to DRAIN_SECONDS.
        servicer.drain()
        if not await servicer.drained(DRAIN_SECONDS):
            logger.warning("calls still under way after %gs of draining; stopping anyway", DRAIN_SECONDS)
        if web is not None:
            await web.stop()
        if grpc_server is not None:
            await grpc_server.stop()
        await servicer.close()
        if observer is not None:
            observer.close()

    await wait_for_stop_signal(stop)


def main(argv: list[str] | None = None) -> None:
    """Entry point: reads the pickled GatewaySpec from stdin and serves it."""
    parser = argparse.ArgumentParser(prog="python -m docwire.gateway.app")
    parser.add_argument("--ready-fd", type=int, default=None, help="pipe to write {'port': N} to once serving")
    args = parser.parse_args(argv)
    spec: GatewaySpec = cloudpickle.load(sys.stdin.buffer)
    configure_logging("gateway")
    try:
        uvloop.run(serve(spec, args.ready_fd))
    except PortUnavailable as exc:  # another process holds a port it was given: one line says which and why
        raise SystemExit(f"gateway: {exc}") from None


if __name__ == "__main__":
    main()
