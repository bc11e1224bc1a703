"""The contract's conventions that its ``.proto`` files cannot state.

Every server and client module reads these values from here, so a sender and a
receiver cannot disagree on them.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_ENDPOINT", "DEFAULT_MAX_MESSAGE_BYTES", "ERROR_METADATA_KEY", "RESULTS_KEY", "normalize_endpoint"]

#: The endpoint a bare ``@requests`` binds to: it handles every endpoint no other method claims,
#: and a request without ``header.exec_endpoint`` goes there (Jina's reserved name).
DEFAULT_ENDPOINT: Final = "/default"

#: The parameters key under which each executor's returned dict comes back,
#: as ``parameters["__results__"]["<executor>/rep-<i>"]`` (Jina's reserved name).
RESULTS_KEY: Final = "__results__"

#: The largest message a server or a client sends or receives unless configured otherwise.
DEFAULT_MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024

#: Trailing-metadata key naming the DocwireError class a server aborted a call with.
ERROR_METADATA_KEY: Final = "docwire-error"


def normalize_endpoint(endpoint: str) -> str:
    """The canonical spelling of an endpoint name: one leading slash, ``DEFAULT_ENDPOINT`` for empty."""
    stripped = endpoint.strip()
    if stripped in ("", "/"):
        return DEFAULT_ENDPOINT if stripped == "" else "/"
    return stripped if stripped.startswith("/") else f"/{stripped}"
