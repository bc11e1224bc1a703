"""The gateway's HTTP and WebSocket ports, served from one transcoder of the gateway core.

``docwire.gateway.app`` imports this module only when the gateway serves HTTP or WebSocket, so
Starlette, uvicorn and the document JSON (docarray, numpy, pydantic) stay out of a gRPC-only
gateway's process.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from docwire.gateway.auth import TokenCheck
from docwire.gateway.service import GatewayServicer
from docwire.gateway.spec import GatewaySpec
from docwire.transports.http import HttpServer, HttpTranscoder, start_http_server
from docwire.transports.websocket import WebSocketGateway
from docwire_contract.v1 import gateway_pb2

__all__ = ["WebServers", "start_web_servers"]


@dataclass(slots=True)
class WebServers:
    """The HTTP and WebSocket servers a gateway runs (None: that protocol is not served)."""

    http: HttpServer | None = None
    websocket: HttpServer | None = None
    websocket_gateway: WebSocketGateway | None = None

    def ports(self) -> dict[str, int]:
        """Protocol -> bound port, for the protocols served."""
        servers = {"http": self.http, "websocket": self.websocket}
        return {name: server.port for name, server in servers.items() if server is not None}

    async def stop(self) -> None:
        """Closes the WebSocket sessions (for up to 5 s), then stops both servers."""
        if self.websocket_gateway is not None and self.websocket is not None:
            await self.websocket_gateway.wait_closed(timeout=5.0)  # before uvicorn closes the rest with 1012
            await self.websocket.stop()
        if self.http is not None:
            await self.http.stop()


async def start_web_servers(
    spec: GatewaySpec,
    servicer: GatewayServicer,
    wanted: Mapping[str, int],
    token_check: TokenCheck | None,
    version: str,
) -> WebServers:
    """Serves ``servicer`` over HTTP and WebSocket on the ports ``wanted`` names (protocol -> port, 0: any).

    The WebSocket port serves the HTTP API too (dry_run, endpoints, SSE).
    """
    service = gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"]
    transcoder = HttpTranscoder(service, servicer, version)
    start = functools.partial(
        start_http_server,
        ssl_certfile=spec.ssl_certfile,
        ssl_keyfile=spec.ssl_keyfile,
        cors_origins=spec.cors_origins,
        max_body_bytes=spec.max_message_bytes,
        token_check=token_check,
        read_timeout=spec.http_read_timeout,
    )
    served = WebServers()
    if "http" in wanted:
        served.http = await start(transcoder.app(), spec.host, wanted["http"])
    if "websocket" in wanted:
        sockets = WebSocketGateway(servicer, allowed_origins=spec.cors_origins, token_check=token_check)
        served.websocket_gateway = sockets
        app = sockets.app(transcoder.app().routes)
        served.websocket = await start(app, spec.host, wanted["websocket"], ws_max_size=spec.max_message_bytes)
    return served
