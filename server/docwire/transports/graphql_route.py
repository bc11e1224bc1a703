"""The HTTP port's GraphQL route, whose stack loads on its first request.

strawberry and graphql-core are some 300 modules: an HTTP gateway that no client asks for
GraphQL never loads them. The first request to ``GRAPHQL_PATH`` imports
``docwire.transports.graphql`` in a worker thread (the event loop keeps serving meanwhile),
builds its app once, and every request, that one included, goes to it.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from docwire.gateway.service import GatewayServicer
from docwire.transports.document_json import DocumentJson

__all__ = ["GRAPHQL_PATH", "GraphqlRoute"]

#: Where the GraphQL endpoint is served on the gateway's HTTP port.
GRAPHQL_PATH = "/graphql"
_GRAPHQL_MODULE = "docwire.transports.graphql"


class GraphqlRoute:
    """An ASGI app standing for ``graphql.graphql_app(gateway, documents)``, built on first use.

    Args:
        gateway: the gateway core, whose Post, endpoints and versions the schema serves.
        documents: returns the JSON <-> document converter for the current schemas.
    """

    def __init__(self, gateway: GatewayServicer, documents: Callable[[], DocumentJson]) -> None:
        self._gateway = gateway
        self._documents = documents
        self._app: ASGIApp | None = None
        self._loading = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app or await self._load()
        await app(scope, receive, send)

    async def _load(self) -> ASGIApp:
        async with self._loading:  # concurrent first requests build one app
            if self._app is None:
                module = await asyncio.to_thread(importlib.import_module, _GRAPHQL_MODULE)
                build: Callable[[GatewayServicer, Callable[[], DocumentJson]], ASGIApp] = module.graphql_app
                self._app = build(self._gateway, self._documents)
            return self._app
