"""GraphQL from the client: ``mutate`` posts a query to a gateway's ``/graphql`` and returns its answer.

The gateway serves GraphQL on its HTTP port (``docwire.transports.graphql``): a ``docs``
mutation sending documents through the Flow and returning only the fields the query
selects. This module is the client side of the incumbent's ``Client.mutate``: one
``POST {"query", "variables"}`` over httpx, answered by the GraphQL response as a dict,
``{"data": {"docs": [...]}}``, with any GraphQL error (an executor's exception, a
malformed query) in its ``"errors"`` list, as GraphQL clients expect. Only failures
below GraphQL raise: the server cannot be reached, does not answer in time, or answers
something that is not a GraphQL response.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from docwire_client.target import Target
from docwire_contract.errors import DocwireError, GatewayUnavailable, RequestTimeout, error_from_http

__all__ = ["GRAPHQL_PATH", "graphql_url", "mutate"]

#: Where a docwire gateway serves GraphQL on its HTTP port.
GRAPHQL_PATH = "/graphql"


def graphql_url(target: Target) -> str:
    """The GraphQL URL of a client's target: ``http(s)://host:port/graphql`` whatever its protocol
    (GraphQL is served on the gateway's HTTP port, so the target should name that port)."""
    host = f"[{target.host}]" if ":" in target.host and not target.host.startswith("[") else target.host
    return f"{'https' if target.tls else 'http'}://{host}:{target.port}{GRAPHQL_PATH}"


async def mutate(
    url: str,
    mutation: str,
    *,
    variables: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    verify: bool | ssl.SSLContext = True,
    client: httpx.AsyncClient | None = None,
) -> dict[str, Any]:
    """Sends a GraphQL mutation (or query) and returns the GraphQL response.

    Args:
        url: the GraphQL endpoint, for example ``http://localhost:12346/graphql`` (``graphql_url``).
        mutation: the GraphQL document, for example ``mutation { docs(data: {text: "hi"}) { id text } }``.
        variables: values for the document's ``$variables``.
        timeout: seconds to wait for the answer; None waits as long as the Flow takes.
        headers: HTTP headers to send; the gateway passes them on to executors as their metadata.
        verify: how TLS verifies the server: True (system CAs), False, or an SSL context trusting given CAs.
        client: an open ``httpx.AsyncClient`` to send with (its connections are reused); by default a
            new one is opened and closed for this call.

    Returns:
        The response object: ``{"data": ...}``, with ``"errors"`` when GraphQL reported any.

    Raises:
        GatewayUnavailable: the server cannot be reached (or does not speak HTTP/1.1 there: a gRPC port).
        RequestTimeout: no answer within ``timeout``.
        DocwireError: the server answered with something other than a GraphQL response (for example
            HTTP 404: it serves no GraphQL); the subclass follows the HTTP status.
    """
    body: dict[str, Any] = {"query": mutation}
    if variables is not None:
        body["variables"] = dict(variables)
    sent_headers = {"content-type": "application/json", "accept": "application/json", **(headers or {})}
    try:
        if client is None:
            async with httpx.AsyncClient(verify=verify, timeout=httpx.Timeout(timeout)) as own:
                reply = await own.post(url, json=body, headers=sent_headers)
        else:
            reply = await client.post(url, json=body, headers=sent_headers, timeout=httpx.Timeout(timeout))
    except httpx.TimeoutException as exc:
        raise RequestTimeout(f"no GraphQL answer from {url} within {timeout} s ({type(exc).__name__})") from exc
    except httpx.RemoteProtocolError as exc:
        raise GatewayUnavailable(
            f"{url} did not answer as an HTTP/1.1 server ({exc}); GraphQL is served on the gateway's HTTP port, "
            "not its gRPC one"
        ) from exc
    except httpx.HTTPError as exc:
        raise GatewayUnavailable(f"cannot reach the server at {url}: {type(exc).__name__}: {exc}") from exc
    return _graphql_response(url, reply)


def _graphql_response(url: str, reply: httpx.Response) -> dict[str, Any]:
    """The GraphQL response a reply carries, or the DocwireError it stands for."""
    try:
        parsed: Any = reply.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        parsed = None
    if isinstance(parsed, dict) and ("data" in parsed or "errors" in parsed):
        return parsed
    status = reply.status_code
    if isinstance(parsed, dict) and "message" in parsed:  # a docwire error body: {"code", "status", "error", ...}
        raise error_from_http(status, {**parsed, "message": f"{url} answered HTTP {status}: {parsed['message']}"})
    text = " ".join(reply.text.split())[:300] or reply.reason_phrase
    if reply.is_success:
        raise DocwireError(f"{url} answered HTTP {status} with no GraphQL response: {text}")
    raise error_from_http(status, {"message": f"{url} answered HTTP {status}: {text}"})
