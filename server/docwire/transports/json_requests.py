"""Requests from JSON and replies to JSON: what the HTTP and WebSocket transports share.

A JSON request is protobuf's JSON mapping of the request message (camelCase or
snake_case keys) with two conventions of the incumbent on top: the header's fields
may be given at the top level (``{"execEndpoint": "/x", "data": [...]}``), and
documents are plain JSON objects, validated against the schema the serving
executor published (``document_json``). A reply is protobuf's JSON mapping with
documents as plain objects again. Keeping both directions here means a body that
``POST /post`` takes is also a frame the WebSocket transport takes, and the two
answer the same JSON.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format, message_factory, struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from docwire.transports.document_json import DocumentJson, doc_list_to_json, doc_to_json
from docwire_contract.conventions import DEFAULT_ENDPOINT, normalize_endpoint
from docwire_contract.errors import BadRequest
from docwire_contract.v1 import document_pb2, request_pb2

__all__ = [
    "TOO_DEEP",
    "SchemaDocuments",
    "endpoint_of",
    "json_field",
    "lift_header",
    "message_from_json",
    "message_to_json",
    "parse_json",
    "set_path",
]

_DOC_LIST = request_pb2.DataContent.DESCRIPTOR
_DOC = document_pb2.Doc.DESCRIPTOR
_STRUCT = struct_pb2.Struct.DESCRIPTOR


#: Why a request nesting arrays or objects thousands deep (hundreds, in a document's tags) is refused.
TOO_DEEP = "arrays or objects nest deeper than docwire reads them (Python's recursion limit)"


def parse_json(raw: str | bytes, what: str) -> Any:
    """``raw`` parsed as JSON, raw line breaks and tabs inside strings allowed.

    Seed 001's curl command puts ``$( base64 test-1.jpeg)`` inside a JSON string, and
    ``base64`` breaks its output every 76 characters: strict JSON would refuse the line
    breaks, so they are accepted (base64 decoding skips them).

    Raises:
        BadRequest: ``raw`` is not JSON (or not UTF-8, or nested too deeply); the message names ``what`` and the
            position.
    """
    try:
        return json.loads(raw, strict=False)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"{what} is not valid JSON at line {exc.lineno} column {exc.colno} (char {exc.pos}): {exc.msg}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}") from exc
    except RecursionError:  # the parser recurses once per level: thousands of [ or { exhaust the stack
        raise BadRequest(f"{what}: {TOO_DEEP}") from None


def json_field(descriptor: Descriptor, key: str) -> FieldDescriptor | None:
    """The field of ``descriptor`` named ``key`` in snake_case or camelCase, if any."""
    return descriptor.fields_by_name.get(key) or next((f for f in descriptor.fields if f.json_name == key), None)


def set_path(target: dict[str, Any], path: str, value: Any) -> None:
    """Sets ``target["a"]["b"] = value`` for ``path`` ``"a.b"``, making the parents on the way; a value
    already there under the leaf's other spelling (``b_c`` or ``bC``) is replaced, not kept beside it."""
    *parents, leaf = path.split(".")
    for name in parents:
        target = target.setdefault(name, {})
    head, *rest = leaf.split("_")
    target.pop(head + "".join(word.capitalize() for word in rest), None)
    target[leaf] = value


def lift_header(descriptor: Descriptor, obj: dict[str, Any]) -> None:
    """Moves header fields given at the top level (``execEndpoint``) into ``header``."""
    header = json_field(descriptor, "header")
    if header is None or header.message_type is None:
        return
    for key in list(obj):
        if json_field(descriptor, key) is None and json_field(header.message_type, key) is not None:
            obj.setdefault(header.json_name, {})[key] = obj.pop(key)


def endpoint_of(message: Message) -> str:
    """The request's endpoint, normalized (``"embed"`` is ``"/embed"``); ``/default`` when it names none."""
    header = getattr(message, "header", None)
    if header is None or not header.HasField("exec_endpoint"):
        return DEFAULT_ENDPOINT
    return normalize_endpoint(header.exec_endpoint)


def message_from_json(descriptor: Descriptor, obj: dict[str, Any], documents: DocumentJson) -> Message:
    """A request message of type ``descriptor`` from its JSON object (consumed: keys are moved and popped).

    A request without an id gets one (``header.request_id``), so that its reply names it.

    Raises:
        BadRequest: a field is unknown or of the wrong type, or values nest deeper than they are read.
        DocumentSchemaError: documents do not fit the endpoint's input schema (the field is named).
    """
    try:
        return _message_from_json(descriptor, obj, documents)
    except RecursionError:  # the converters recurse per level: a document's tags a few hundred dicts deep
        raise BadRequest(TOO_DEEP) from None


def _message_from_json(descriptor: Descriptor, obj: dict[str, Any], documents: DocumentJson) -> Message:
    message = message_factory.GetMessageClass(descriptor)()
    lift_header(descriptor, obj)
    found = {}
    for field in descriptor.fields:
        if field.message_type in (_DOC_LIST, _DOC):
            for key in (field.name, field.json_name):
                if key in obj:
                    found[field.name] = obj.pop(key)
    try:
        json_format.ParseDict(obj, message)
    except json_format.ParseError as exc:
        raise BadRequest(f"the request does not fit {descriptor.name}: {exc}") from exc
    header = getattr(message, "header", None)
    if header is not None and not header.request_id:
        header.request_id = uuid.uuid4().hex  # as the gRPC client does: replies and logs can name it
    endpoint = endpoint_of(message)
    if header is not None and header.HasField("exec_endpoint"):
        header.exec_endpoint = endpoint  # "embed" from the path is "/embed", "default" is "/default"
    for name, value in found.items():
        if descriptor.fields_by_name[name].message_type is _DOC:
            getattr(message, name).CopyFrom(documents.encode_one(value, endpoint))
        else:
            getattr(message, name).docs_bytes = documents.encode(value, endpoint)
    return message


def message_to_json(message: Message) -> dict[str, Any]:
    """A reply as JSON: protobuf's JSON mapping, with documents as plain objects (kept last)."""
    found: dict[str, Any] = {}
    rest = type(message)()
    rest.CopyFrom(message)
    for field in message.DESCRIPTOR.fields:
        if field.message_type is _DOC_LIST:
            content = getattr(message, field.name)
            kind = content.WhichOneof("documents")
            docs = document_pb2.DocList.FromString(content.docs_bytes) if kind == "docs_bytes" else content.docs
            found[field.json_name] = doc_list_to_json(docs)
            rest.ClearField(field.name)
        elif field.message_type is _DOC:
            found[field.json_name] = doc_to_json(getattr(message, field.name))
            rest.ClearField(field.name)
    plain = json_format.MessageToDict(rest, always_print_fields_with_no_presence=True, use_integers_for_enums=True)
    for field in message.DESCRIPTOR.fields:  # an unset Struct (``parameters``) reads as {} rather than vanishing
        if field.message_type is _STRUCT and field.json_name not in plain:
            plain[field.json_name] = {}
    return {**plain, **found}


class SchemaDocuments:
    """The JSON <-> document converter for the Flow's current schemas, rebuilt when discovery changes them.

    Args:
        endpoints: returns the Flow's discovered endpoints and schemas.
    """

    def __init__(self, endpoints: Callable[[], request_pb2.EndpointsInfo]) -> None:
        self._endpoints = endpoints
        self._current: tuple[request_pb2.EndpointsInfo, DocumentJson] | None = None

    def __call__(self) -> DocumentJson:
        info = self._endpoints()
        if self._current is None or self._current[0] is not info:
            self._current = (info, DocumentJson(json_format.MessageToDict(info.schemas)))
        return self._current[1]
