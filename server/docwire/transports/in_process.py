"""Calling the gateway's rpc handlers in-process, as the HTTP and WebSocket transports do.

Those transports do not re-implement the gateway: they call the very handler the gRPC
server registers, with a stand-in for ``grpc.aio.ServicerContext`` that holds the
caller's metadata and turns ``context.abort(...)`` into an exception carrying the
DocwireError the handler meant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NoReturn

import grpc

from docwire_contract.conventions import ERROR_METADATA_KEY
from docwire_contract.errors import DocwireError, error_from_status

__all__ = ["HOP_HEADERS", "Aborted", "CallContext", "header_metadata"]

#: HTTP headers about the connection, not the call: never passed on to executors as metadata.
HOP_HEADERS = frozenset({"content-length", "connection", "accept", "keep-alive", "transfer-encoding", "upgrade"})


def header_metadata(headers: Mapping[str, str], skip: frozenset[str] = HOP_HEADERS) -> list[tuple[str, str]]:
    """A request's (or a WebSocket handshake's) headers as the call's metadata, leaving out ``skip``."""
    return [(key, value) for key, value in headers.items() if key not in skip]


class Aborted(Exception):
    """What the in-process call context raises where a gRPC context would end the call.

    Attributes:
        error: the DocwireError the handler ended the call with (its class named in
            trailing metadata, else a plain DocwireError), with ``grpc_code`` set.
    """

    def __init__(self, code: grpc.StatusCode, details: str, error_name: str) -> None:
        super().__init__(details)
        self.error = error_from_status(error_name, details) or DocwireError(details or code.name)
        self.error.grpc_code = code


class CallContext:
    """The part of ``grpc.aio.ServicerContext`` the gateway's handlers use, for an in-process call."""

    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = tuple(metadata)
        self._trailing: tuple[tuple[str, str], ...] = ()

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def set_trailing_metadata(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._trailing = tuple(metadata)

    async def abort(self, code: grpc.StatusCode, details: str = "", *_: object) -> NoReturn:
        name = next((str(value) for key, value in self._trailing if key == ERROR_METADATA_KEY), "")
        raise Aborted(code, details, name)
