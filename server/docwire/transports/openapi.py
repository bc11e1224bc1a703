"""The OpenAPI document of the HTTP transport, and the pages that show it (assets served locally).

Built from the same HTTP bindings the transport serves plus discovery's schemas:
each endpoint gets its own ``POST /<endpoint>`` path whose request and response
documents are that endpoint's input and output schemas (field descriptions and
examples from the executors' pydantic models included). OpenAPI 3.0.3 is emitted
because the Swagger UI the ``swagger-ui-bundle`` package ships (4.x) renders 3.0
only: pydantic's ``anyOf [..., {"type": "null"}]`` becomes ``nullable``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from docwire.transports.transcoding import Binding
from docwire.v1 import request_pb2

__all__ = ["ASSETS_PATH", "document", "redoc_page", "swagger_page", "swagger_ui_directory"]

#: Where the Swagger UI's files are served.
ASSETS_PATH = "/docs/assets"

_SCALARS = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    FieldDescriptor.TYPE_ENUM: {"type": "string"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Empty": {"type": "object"},
}


def swagger_ui_directory() -> Path:
    """The Swagger UI files the ``swagger-ui-bundle`` package ships."""
    return Path(str(swagger_ui_path))


def swagger_page(spec_url: str) -> str:
    """The Swagger UI page for the document at ``spec_url``."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>docwire - Swagger UI</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({{url: {json.dumps(spec_url)}, dom_id: "#swagger-ui"}});</script>
</body></html>"""


def redoc_page(spec_url: str) -> str:
    """The reference page at ``/redoc``: no maintained Python package ships Redoc's script on its own, so
    this is the Swagger UI with its try-it-out turned off, a read-only reference served from local assets."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>docwire - API reference</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({{url: {json.dumps(spec_url)}, dom_id: "#swagger-ui",
  supportedSubmitMethods: [], docExpansion: "full"}});</script>
</body></html>"""


def _openapi30(schema: Any, defs: dict[str, Any]) -> Any:
    """A pydantic JSON schema made OpenAPI 3.0: ``$defs`` hoisted to components, null unions made nullable."""
    if isinstance(schema, list):
        return [_openapi30(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$defs":
            for name, sub in value.items():
                defs[name] = _openapi30(sub, defs)
        elif key == "$ref" and isinstance(value, str):
            out[key] = value.replace("#/$defs/", "#/components/schemas/")
        elif "/" in key or " " in key:  # docarray's "tensor/array shape"
            out["x-" + key.replace("/", "-").replace(" ", "-")] = value
        else:
            out[key] = _openapi30(value, defs)
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        del out["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            out.update(rest[0])
        else:
            out["anyOf"] = rest
        out["nullable"] = True
    return out


def _message_schema(descriptor: Descriptor, seen: frozenset[str] = frozenset()) -> dict[str, Any]:
    """protobuf's JSON mapping of a message as a schema (documents excluded: they get the endpoints' own)."""
    if descriptor.full_name in _WELL_KNOWN:
        return dict(_WELL_KNOWN[descriptor.full_name])
    if descriptor.full_name in seen:
        return {"type": "object"}
    properties: dict[str, Any] = {}
    for field in descriptor.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            properties[field.json_name] = {"type": "object", "additionalProperties": _field_schema(value, seen)}
            continue
        schema = _field_schema(field, seen | {descriptor.full_name})
        is_repeated = field.is_repeated
        properties[field.json_name] = {"type": "array", "items": schema} if is_repeated else schema
    return {"type": "object", "properties": properties}


def _field_schema(field: FieldDescriptor, seen: frozenset[str]) -> dict[str, Any]:
    if field.message_type is not None:
        return _message_schema(field.message_type, seen)
    return dict(_SCALARS.get(field.type, {"type": "integer"}))


def _data_request(
    doc_schema: dict[str, Any], parameters: dict[str, Any], endpoints: list[str] | None
) -> dict[str, Any]:
    """The incumbent's body: documents, parameters, and the header's fields at the top level."""
    header = _message_schema(request_pb2.Header.DESCRIPTOR)["properties"]
    header.pop("status", None)
    if endpoints is not None:
        header["execEndpoint"] = {"type": "string", "enum": endpoints}
    else:
        header.pop("execEndpoint", None)
    return {
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": doc_schema},
            "parameters": parameters or {"type": "object"},
            **header,
        },
    }


def _data_reply(doc_schema: dict[str, Any]) -> dict[str, Any]:
    reply = _message_schema(request_pb2.DataRequest.DESCRIPTOR)
    reply["properties"]["data"] = {"type": "array", "items": doc_schema}
    return reply


def _component(components: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    if not schema:
        return {"type": "object", "additionalProperties": True}
    converted = _openapi30(schema, components)
    name = str(converted.get("title") or "Document")
    candidate, n = name, 1
    while candidate in components and components[candidate] != converted:
        n += 1
        candidate = f"{name}{n}"
    components[candidate] = converted
    return {"$ref": f"#/components/schemas/{candidate}"}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def document(bindings: list[Binding], info: request_pb2.EndpointsInfo, version: str) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document for these bindings and the Flow's discovered endpoints."""
    schemas = json_format.MessageToDict(info.schemas)
    components: dict[str, Any] = {}
    error = {"description": "An error", **_json_body({"$ref": "#/components/schemas/Error"})}
    paths: dict[str, Any] = {}
    for binding in bindings:
        method = binding.method
        summary = method.name
        is_docs = method.input_type in (
            request_pb2.DataRequest.DESCRIPTOR,
            request_pb2.SingleDocumentRequest.DESCRIPTOR,
        )
        if binding.path.fields == ("header.exec_endpoint",):
            prefix = binding.path.template.split("{", 1)[0].rstrip("/")
            for endpoint in info.endpoints:
                entry = schemas.get(endpoint, {})
                if method.input_type is request_pb2.SingleDocumentRequest.DESCRIPTOR and not entry.get("is_generator"):
                    continue
                doc_in = _component(components, entry.get("input"))
                doc_out = _component(components, entry.get("output"))
                params = _openapi30(entry.get("parameters") or {}, components)
                operation: dict[str, Any] = {
                    "summary": f"{summary} {endpoint}",
                    "operationId": f"{method.name}{endpoint}".replace("/", "_"),
                    "responses": {
                        "200": {"description": "The reply", **_json_body(_data_reply(doc_out))},
                        "default": error,
                    },
                }
                if binding.body:
                    operation["requestBody"] = {"required": True, **_json_body(_data_request(doc_in, params, None))}
                else:
                    operation["parameters"] = [
                        {"name": name, "in": "query", "schema": prop, "required": False}
                        for name, prop in ((entry.get("input") or {}).get("properties") or {}).items()
                    ]
                paths.setdefault(f"{prefix}{endpoint}", {})[binding.verb.lower()] = operation
            continue
        operation = {"summary": summary, "operationId": method.name, "responses": {"default": error}}
        if is_docs:
            generic = {"type": "object", "additionalProperties": True}
            operation["responses"]["200"] = {"description": "The reply", **_json_body(_data_reply(generic))}
            if binding.body:
                body = _data_request(generic, {}, list(info.endpoints))
                operation["requestBody"] = {"required": True, **_json_body(body)}
        else:
            reply = _message_schema(method.output_type)
            operation["responses"]["200"] = {"description": "The reply", **_json_body(reply)}
        paths.setdefault(binding.path.template, {})[binding.verb.lower()] = operation
    components["Error"] = {
        "type": "object",
        "properties": {
            "code": {"type": "integer", "description": "The gRPC status code"},
            "status": {"type": "string", "description": "The gRPC status code's name"},
            "error": {"type": "string", "description": "The docwire error class"},
            "message": {"type": "string"},
            "endpoints": {"type": "array", "items": {"type": "string"}},
        },
    }
    paths["/"] = {
        "get": {"summary": "Liveness", "operationId": "liveness", "responses": {"200": {"description": "Alive"}}}
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "docwire Flow", "version": version, "description": "The Flow's endpoints over HTTP/JSON."},
        "paths": paths,
        "components": {"schemas": components},
    }
