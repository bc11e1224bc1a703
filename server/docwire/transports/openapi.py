"""The OpenAPI document of the HTTP transport, and the pages that show it (assets served locally).

Built from the same HTTP bindings the transport serves plus discovery's schemas:
each endpoint gets its own ``POST /<endpoint>`` path whose request and response
documents are that endpoint's input and output schemas (field descriptions and
examples from the executors' pydantic models included).

The pages: Swagger UI at ``/docs`` (with "Try it out") and Redoc at ``/redoc``, their
scripts served by the gateway itself from an installed package, so an air-gapped
cluster shows them (no CDN, nothing fetched from outside: no fonts, no validator badge).
The files come from ``fastapi-offline``, which ships the standalone builds of both
(Swagger UI 5, Redoc 2; it replaces ``swagger-ui-bundle``, whose Swagger UI 4 dates from
2023). Of the packages that ship Redoc's standalone build, it is the smallest install:
``drf-spectacular-sidecar`` (released monthly) hard-requires Django, ``fastapi-standalone-docs``
needed Python 3.11+ when docwire still claimed 3.10, the Flask/star-openapi Redoc plugins require their
frameworks. Its one requirement, FastAPI, is a thin layer over the Starlette and pydantic we
already use, and is never imported: the package is found with ``importlib`` and only its
``static`` folder is read. Each page also carries a same-origin Content-Security-Policy, so
the browser itself refuses any request elsewhere.

OpenAPI 3.0.3 is emitted (pydantic's ``anyOf [..., {"type": "null"}]`` becomes
``nullable``): both pages render 3.1 too, but 3.0 is what most client generators
and API tools still read best, and nothing here needs 3.1.
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.util
import json
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from docwire.transports.transcoding import Binding
from docwire_contract.v1 import request_pb2

__all__ = ["ASSETS_PACKAGE", "ASSETS_PATH", "assets_directory", "document", "redoc_page", "swagger_page"]

#: Where the pages' scripts and styles are served.
ASSETS_PATH = "/docs/assets"
#: The installed package whose ``static`` folder holds Swagger UI's and Redoc's standalone builds.
ASSETS_PACKAGE = "fastapi_offline"
_ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")

#: The bounds of a 32-bit signed integer, as JSON schema states them.
_INT32_BOUNDS = {"minimum": -(2**31), "maximum": 2**31 - 1}
_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    # The bounds the JSON parser enforces: a value outside them is a 400, so the schema says so.
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32", **_INT32_BOUNDS},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "format": "int32", "minimum": 0, "maximum": 2**32 - 1},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Empty": {"type": "object"},
}


def assets_directory() -> Path:
    """The folder holding the pages' files, found without importing the package (nor FastAPI).

    Raises:
        RuntimeError: the package is not installed or lacks one of the files, naming which.
    """
    spec = importlib.util.find_spec(ASSETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the API pages' assets package {ASSETS_PACKAGE!r} is not installed: pip install fastapi-offline"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    missing = [name for name in _ASSET_FILES if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(f"{folder} lacks {', '.join(missing)}: reinstall the pinned fastapi-offline")
    return folder


def _same_origin_only(*inline_scripts: str) -> str:
    """A ``<meta>`` Content-Security-Policy letting the page load from its own origin only.

    The browser then refuses anything else before it leaves the machine: the pages work the same
    air-gapped, and a script that reaches out (Redoc's footer loads its maker's logo from a CDN)
    is stopped and shows without it. ``inline_scripts`` are allowed by their SHA-256; styles may be
    inline (both UIs set style attributes), images may be ``data:`` (their icons), Redoc's search
    runs in a ``blob:`` worker.
    """
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'" for script in inline_scripts
    )
    policy = (
        f"default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'"
    )
    return f'<meta http-equiv="Content-Security-Policy" content="{policy}">'


def swagger_page(spec_url: str) -> str:
    """The Swagger UI page for the document at ``spec_url``, with "Try it out" on every operation.

    ``validatorUrl: null`` keeps Swagger UI from loading a badge from validator.swagger.io.
    """
    config = {"url": spec_url, "dom_id": "#swagger-ui", "validatorUrl": None, "deepLinking": True}
    script = f"window.ui = SwaggerUIBundle({json.dumps(config)});".replace("</", "<\\/")  # stays one script
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>docwire - Swagger UI</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
{_same_origin_only(script)}
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script>{script}</script>
</body></html>"""


def redoc_page(spec_url: str) -> str:
    """The Redoc reference page for the document at ``spec_url`` (no web fonts: the system's are used)."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>docwire - Redoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
{_same_origin_only()}
<style>body {{ margin: 0; padding: 0; }}</style></head>
<body><redoc spec-url="{html.escape(spec_url)}"></redoc>
<script src="{ASSETS_PATH}/redoc.standalone.js"></script>
</body></html>"""


def _openapi30(schema: Any, defs: dict[str, Any], *, wire_integers: bool = False) -> Any:
    """A pydantic JSON schema made OpenAPI 3.0: ``$defs`` hoisted to components, null unions made nullable.

    ``wire_integers``: the schema is a document's, whose integers travel as the wire's 32-bit
    integers (docarray's ``NodeProto.integer``), so unbounded ones get those bounds.
    """
    if isinstance(schema, list):
        return [_openapi30(item, defs, wire_integers=wire_integers) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$defs":
            for name, sub in value.items():
                defs[name] = _openapi30(sub, defs, wire_integers=wire_integers)
        elif key == "$ref" and isinstance(value, str):
            out[key] = value.replace("#/$defs/", "#/components/schemas/")
        elif "/" in key or " " in key:  # docarray's "tensor/array shape"
            out["x-" + key.replace("/", "-").replace(" ", "-")] = value
        else:
            out[key] = _openapi30(value, defs, wire_integers=wire_integers)
    if wire_integers and out.get("type") == "integer":
        out = _INT32_BOUNDS | out
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
    if field.enum_type is not None:  # written as numbers (use_integers_for_enums); names are read too
        return {"type": "integer", "enum": [value.number for value in field.enum_type.values]}
    return dict(_SCALARS.get(field.type, {"type": "integer"}))


def _data_request(
    doc_schema: dict[str, Any], parameters: dict[str, Any], endpoints: list[str] | None
) -> dict[str, Any]:
    """The incumbent's body: documents, parameters, and the header's fields at the top level."""
    header = _message_schema(request_pb2.Header.DESCRIPTOR)["properties"]
    header.pop("status", None)
    header["targetExecutor"] |= {
        "format": "regex",
        "description": "A regular expression matched against executor names",
    }
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
        "additionalProperties": False,  # the JSON parser refuses unknown fields (400 naming them)
    }


def _data_reply(doc_schema: dict[str, Any]) -> dict[str, Any]:
    reply = _message_schema(request_pb2.DataRequest.DESCRIPTOR)
    reply["properties"]["data"] = {"type": "array", "items": doc_schema}
    return reply


def _component(components: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    if not schema:
        return {"type": "object", "additionalProperties": True}
    converted = _openapi30(schema, components, wire_integers=True)
    name = str(converted.get("title") or "Document")
    candidate, n = name, 1
    while candidate in components and components[candidate] != converted:
        n += 1
        candidate = f"{name}{n}"
    components[candidate] = converted
    return {"$ref": f"#/components/schemas/{candidate}"}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _unique(name: str, verb: str, taken: set[str]) -> str:
    """An operation id from ``name``; the verb is added when an rpc has two bindings on one path."""
    found = name.replace("/", "_")
    if found in taken:
        found = f"{found}_{verb.lower()}"
    taken.add(found)
    return found


def _json_reply(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "The reply", **_json_body(schema)}


def _single_request(doc_schema: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """StreamDoc's body: one document, its parameters, and the header's fields at the top level."""
    request = _data_request(doc_schema, parameters, None)
    request["properties"].pop("data")
    request["properties"]["document"] = doc_schema
    return request


def _add_event_stream(operation: dict[str, Any], doc_out: dict[str, Any], body: dict[str, Any]) -> None:
    """A generator endpoint's ``POST /<endpoint>``: Post's JSON operation, plus its server-sent events form.

    One path and verb serve both, told apart by the ``Accept`` header; OpenAPI has one operation
    per path and verb, so the JSON form stays the operation's and the events form is its
    alternative reply, with the body it takes described in words (the schema is ``StreamDoc``'s).
    """
    events = _events_reply(doc_out)
    operation["responses"]["200"]["content"] |= events["content"]
    fields = ", ".join(sorted(body["properties"]))
    operation["description"] = (
        "A generator endpoint. With `Accept: text/event-stream` it takes one document, "
        f'`{{"document": {{...}}, "parameters": {{...}}}}` (fields: {fields}), and answers with server-sent events '
        f"({events['description']}); otherwise a request of documents, answered in JSON."
    )


def _events_reply(doc_schema: dict[str, Any]) -> dict[str, Any]:
    """A stream of server-sent events, each ``update``'s data a SingleDocumentRequest holding one document."""
    event = _message_schema(request_pb2.SingleDocumentRequest.DESCRIPTOR)
    event["properties"]["document"] = doc_schema
    return {
        "description": "Server-sent events: `event: update` per document (data: this schema), then `event: end`;"
        " an error after the first event is an `event: error` with the Error schema as data",
        "content": {"text/event-stream": {"schema": event}},
    }


def document(bindings: list[Binding], info: request_pb2.EndpointsInfo, version: str) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document for these bindings and the Flow's discovered endpoints."""
    schemas = json_format.MessageToDict(info.schemas)
    components: dict[str, Any] = {}
    error = {"description": "An error", **_json_body({"$ref": "#/components/schemas/Error"})}
    paths: dict[str, Any] = {}
    operation_ids: set[str] = set()
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
                doc_in = _component(components, entry.get("input"))
                doc_out = _component(components, entry.get("output"))
                params = _openapi30(entry.get("parameters") or {}, components)
                streams = method.server_streaming
                operation: dict[str, Any] = {
                    "summary": f"{summary} {endpoint}",
                    "operationId": _unique(f"{method.name}{prefix}{endpoint}", binding.verb, operation_ids),
                    "responses": {
                        "200": _events_reply(doc_out) if streams else _json_reply(_data_reply(doc_out)),
                        "default": error,
                    },
                }
                path = paths.setdefault(f"{prefix}{endpoint}", {})
                if streams and binding.body and "post" in path:  # Accept: text/event-stream, beside Post's JSON
                    _add_event_stream(path["post"], doc_out, _single_request(doc_in, params))
                    continue
                if binding.body:
                    # No body is an empty request (``curl -X POST .../endpoint``): the body is optional.
                    operation["requestBody"] = {"required": False, **_json_body(_data_request(doc_in, params, None))}
                else:
                    operation["parameters"] = [
                        {"name": name, "in": "query", "schema": prop, "required": False}
                        for name, prop in ((entry.get("input") or {}).get("properties") or {}).items()
                    ]
                path[binding.verb.lower()] = operation
            continue
        operation = {"summary": summary, "operationId": method.name, "responses": {"default": error}}
        if is_docs:
            generic = {"type": "object", "additionalProperties": True}
            operation["responses"]["200"] = {"description": "The reply", **_json_body(_data_reply(generic))}
            if binding.body:
                body = _data_request(generic, {}, list(info.endpoints))
                operation["requestBody"] = {"required": False, **_json_body(body)}
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
