"""The messages the gateway builds around executors' replies, without decoding their documents.

Protobuf merges concatenated messages and appends repeated fields, so the gateway's route
goes in front of a reply as a message of its own, serialized and prepended.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format

from docwire_contract.conventions import RESULTS_KEY
from docwire_contract.errors import DocwireError
from docwire_contract.v1 import request_pb2

__all__ = ["GATEWAY_ROUTE", "error_reply", "gateway_route", "merge_endpoints", "with_parameters", "with_results"]

#: The executor name of the gateway's own route in a reply's ``routes``.
GATEWAY_ROUTE = "gateway"


def gateway_route(start: int) -> request_pb2.DataRequest:
    """A message holding only the gateway's route, from ``start`` until now."""
    gateway = request_pb2.DataRequest()
    route = gateway.routes.add(executor=GATEWAY_ROUTE)
    route.start_time.FromNanoseconds(start)
    route.end_time.FromNanoseconds(time.time_ns())
    return gateway


def error_reply(request: request_pb2.DataRequest, error: DocwireError, start: int) -> bytes:
    """The request sent back with an error status naming the failure; its documents are returned untouched."""
    status = request.header.status
    status.code = request_pb2.Status.CODE_ERROR
    status.description = str(error)
    status.exception.name = type(error).__name__
    status.exception.args.append(str(error))
    return gateway_route(start).SerializeToString() + request.SerializeToString()


def with_parameters(request: request_pb2.DataRequest, parameters: dict[str, Any]) -> bytes:
    """``request`` serialized with ``parameters`` in place of its own."""
    copy = request_pb2.DataRequest()
    copy.CopyFrom(request)
    copy.parameters.Clear()
    copy.parameters.update(parameters)
    return copy.SerializeToString()


def with_results(parameters: dict[str, Any], reply: request_pb2.DataRequest) -> dict[str, Any]:
    """``parameters`` plus the results executors put in ``reply`` so far (scoping must not drop them)."""
    returned = json_format.MessageToDict(reply.parameters) if reply.HasField("parameters") else {}
    if RESULTS_KEY not in returned:
        return parameters
    return {**parameters, RESULTS_KEY: returned[RESULTS_KEY]}


def merge_endpoints(infos: Sequence[request_pb2.EndpointsInfo]) -> request_pb2.EndpointsInfo:
    """The Flow's endpoints: every executor's, each with the first one's input and the last one's output schema."""
    merged = request_pb2.EndpointsInfo()
    schemas: dict[str, Any] = {}
    for info in infos:
        for endpoint, schema in json_format.MessageToDict(info.schemas).items():
            entry = schemas.setdefault(endpoint, dict(schema))
            entry["output"] = schema.get("output", entry.get("output"))
    merged.endpoints.extend(sorted({e for info in infos for e in info.endpoints}))
    merged.schemas.update(schemas)
    return merged
