"""docwire: serve multimodal document pipelines over gRPC.

Write an ``Executor``, bind its methods with ``@requests``, serve it as a
``Deployment`` or chain several into a ``Flow``, and call it with ``Client``.

Names are resolved on first use (PEP 562): every gateway and executor process
imports this package on its way to ``docwire.gateway`` or ``docwire.runtime``, and
must not pay for the client, docarray and the orchestration it never uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from docwire_contract.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from docarray import BaseDoc, DocList

    from docwire.executor.base import Executor
    from docwire.executor.batching import dynamic_batching
    from docwire.executor.decorators import requests
    from docwire.orchestration.deployment import Deployment
    from docwire.orchestration.flow import Flow
    from docwire.orchestration.process import StartupError
    from docwire.transports.tls import MutualTls
    from docwire_client import (
        AsyncClient,
        BadRequest,
        Client,
        Document,
        DocumentSchemaError,
        DocwireError,
        EmbedClient,
        EndpointNotFound,
        ExecutorError,
        ExecutorUnavailable,
        GatewayUnavailable,
        MessageTooLarge,
        Overloaded,
        ParametersSchemaError,
        RequestTimeout,
        Response,
        Unauthenticated,
    )

_LOCATIONS = {
    "BaseDoc": ("docarray", "BaseDoc"),
    "DocList": ("docarray", "DocList"),
    **{
        name: ("docwire_client", name)
        for name in (
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
            "Unauthenticated",
            "Response",
        )
    },
    "Executor": ("docwire.executor.base", "Executor"),
    "requests": ("docwire.executor.decorators", "requests"),
    "dynamic_batching": ("docwire.executor.batching", "dynamic_batching"),
    "Deployment": ("docwire.orchestration.deployment", "Deployment"),
    "Flow": ("docwire.orchestration.flow", "Flow"),
    "StartupError": ("docwire.orchestration.process", "StartupError"),
    "MutualTls": ("docwire.transports.tls", "MutualTls"),
}

__all__ = [
    "AsyncClient",
    "BadRequest",
    "BaseDoc",
    "Client",
    "Deployment",
    "DocList",
    "Document",
    "DocumentSchemaError",
    "DocwireError",
    "EmbedClient",
    "EndpointNotFound",
    "Executor",
    "ExecutorError",
    "ExecutorUnavailable",
    "Flow",
    "GatewayUnavailable",
    "MessageTooLarge",
    "MutualTls",
    "Overloaded",
    "ParametersSchemaError",
    "RequestTimeout",
    "Response",
    "StartupError",
    "Unauthenticated",
    "dynamic_batching",
    "requests",
]

__version__ = "0.1.0"


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LOCATIONS)
