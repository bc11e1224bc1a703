"""HTTP bindings from the contract's annotations, path templates, and the one status table (no sockets)."""

from __future__ import annotations

import grpc
import pytest

from docwire.transports.transcoding import PathTemplate, bindings
from docwire_contract.errors import (
    BadRequest,
    DocumentSchemaError,
    EndpointNotFound,
    ExecutorUnavailable,
    RequestTimeout,
)
from docwire_contract.status_map import http_status_of, http_status_of_code
from docwire_contract.v1 import gateway_pb2


def test_every_annotated_rpc_is_bound_most_specific_first() -> None:
    found = bindings(gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"])
    spelled = [(b.verb, b.path.template, b.method.name) for b in found]
    assert ("POST", "/post", "Post") in spelled
    assert ("GET", "/dry_run", "DryRun") in spelled
    # The catch-alls are tried last; where Post and StreamDoc share one, the Accept header picks.
    assert spelled[-3:] == [
        ("POST", "/{header.exec_endpoint=**}", "Post"),
        ("GET", "/{header.exec_endpoint=**}", "StreamDoc"),
        ("POST", "/{header.exec_endpoint=**}", "StreamDoc"),
    ]
    assert "Stream" not in {b.method.name for b in found}  # not annotated: gRPC only


@pytest.mark.parametrize(
    ("template", "path", "fields"),
    [
        ("/post", "/post", {}),
        ("/post", "/posts", None),
        ("/{header.exec_endpoint=**}", "/a/b", {"header.exec_endpoint": "a/b"}),
        ("/v1/{name}", "/v1/x", {"name": "x"}),
        ("/v1/{name}", "/v1/x/y", None),
        ("/v1/{name=books/*}:get", "/v1/books/1:get", {"name": "books/1"}),
    ],
)
def test_path_templates_match_as_grpc_gateway_does(template: str, path: str, fields: dict[str, str] | None) -> None:
    assert PathTemplate.parse(template).match(path) == fields


def test_errors_map_to_http_statuses_once() -> None:
    assert http_status_of(BadRequest("x")) == 400
    assert http_status_of(DocumentSchemaError("x")) == 422
    assert http_status_of(EndpointNotFound("x")) == 404
    assert http_status_of(ExecutorUnavailable("x")) == 503
    assert http_status_of(RequestTimeout("x")) == 504
    assert http_status_of_code(grpc.StatusCode.CANCELLED) == 499
