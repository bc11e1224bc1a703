"""docwire's Python client: call docwire Flows and Deployments over gRPC.

Install it alone with ``pip install ./sdk/python``; it does not pull in the server.
"""

from docwire_client.aio import AsyncClient
from docwire_client.client import Client
from docwire_client.embed import EmbedClient
from docwire_client.response import Response
from docwire_client.target import Target, parse_target
from docwire_contract.doc_types import Document
from docwire_contract.errors import (
    BadRequest,
    DocumentSchemaError,
    DocwireError,
    EndpointNotFound,
    ExecutorError,
    ExecutorUnavailable,
    GatewayUnavailable,
    MessageTooLarge,
    Overloaded,
    ParametersSchemaError,
    RequestTimeout,
    Unauthenticated,
)

__all__ = [
    "AsyncClient",
    "BadRequest",
    "Client",
    "Document",
    "DocumentSchemaError",
    "DocwireError",
    "EmbedClient",
    "EndpointNotFound",
    "ExecutorError",
    "ExecutorUnavailable",
    "GatewayUnavailable",
    "MessageTooLarge",
    "Overloaded",
    "ParametersSchemaError",
    "RequestTimeout",
    "Response",
    "Target",
    "Unauthenticated",
    "parse_target",
]

__version__ = "0.1.0"
