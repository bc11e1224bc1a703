"""Documents as plain JSON objects, converted to and from the wire without executor code.

Into the wire, documents are validated against the input JSON schema the serving
executor published through discovery: docarray rebuilds a document class from it
(``create_base_doc_from_schema``, cached per schema), pydantic checks and coerces
each object (an error names the field), and the shared codec encodes the result.
That keeps the gateway free of executor code while giving the executor exactly the
field kinds it declared (a JSON number array becomes a tensor only where the schema
says tensor).

Out of the wire no schema is needed: ``docwire.v1.Node`` says what each value is, so
replies are rendered directly (tensors as nested number arrays by shape, bytes as
base64), whichever executor produced them.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
from docarray import BaseDoc
from docarray.utils.create_dynamic_doc_class import create_base_doc_from_schema
from pydantic import ValidationError

from docwire_contract.codec import encode_doc, encode_docs
from docwire_contract.doc_types import Document, bytes_fields, bytes_from_json, document_class, tensor_fields
from docwire_contract.errors import DocumentSchemaError
from docwire_contract.v1 import document_pb2

__all__ = ["DocumentJson", "doc_list_to_json", "doc_to_json", "dumps", "to_plain"]

logger = logging.getLogger("docwire.gateway")

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
#: The compact tensor form: {"buffer": base64, "dtype": "<f4", "shape": [4]}.
_TENSOR_KEYS = frozenset({"buffer", "dtype", "shape"})


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _tensor(value: Mapping[str, Any]) -> np.ndarray[Any, Any]:
    try:
        array = np.frombuffer(base64.b64decode(value["buffer"], validate=True), dtype=np.dtype(value["dtype"]))
        return array.reshape([int(n) for n in value["shape"]])
    except (ValueError, TypeError) as exc:
        raise DocumentSchemaError(f"not a valid compact tensor ({{buffer, dtype, shape}}): {exc}") from exc


def _prepared(value: Any, cls: type[BaseDoc] | None) -> Any:
    """``value`` with compact tensors made arrays, camelCase keys renamed to the snake_case fields of ``cls``
    they name, and the base64 text of its bytes fields decoded; nested documents alike.

    Raises:
        DocumentSchemaError: a tensor field holds a bare number or text (docarray would take ``5`` as the
            shape of an uninitialised array: a number of a few billion is gigabytes, and the reply leaks memory).
    """
    if isinstance(value, list):
        return [_prepared(item, cls) for item in value]
    if not isinstance(value, dict):
        return value
    if value.keys() >= _TENSOR_KEYS:
        return _tensor(value)
    fields = None if cls is None else cls.model_fields
    binary = frozenset() if cls is None else bytes_fields(cls)
    tensors = frozenset() if cls is None else tensor_fields(cls)
    renamed = {}
    for key, item in value.items():
        name = key if fields is None or key in fields else _snake(key)
        name = name if fields is None or name in fields else key
        if isinstance(item, str) and name in binary:
            renamed[name] = _bytes(name, item)
        elif name in tensors and item is not None and not isinstance(item, list | dict):
            raise DocumentSchemaError(
                f"{name}: a tensor takes a JSON array of numbers or {{buffer, dtype, shape}}, "
                f"not {type(item).__name__} {str(item)[:40]!r}"
            )
        else:
            field = None if fields is None else fields.get(name)
            renamed[name] = _prepared(item, None if field is None else document_class(field.annotation))
    return renamed


def _bytes(name: str, text: str) -> bytes:
    try:
        return bytes_from_json(name, text)
    except ValueError as exc:
        raise DocumentSchemaError(str(exc)) from exc


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


class DocumentJson:
    """Turns JSON documents into the wire form an endpoint's executor expects.

    Args:
        schemas: discovery's per-endpoint schemas: ``{"/x": {"input": {...}, "output": {...}}}``.
    """

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self._schemas = schemas
        self._classes: dict[str, type[BaseDoc]] = {}  # by schema: endpoints with one schema share a class
        self._by_endpoint: dict[str, type[BaseDoc]] = {}

    def input_class(self, endpoint: str) -> type[BaseDoc]:
        """The document class built from the endpoint's input schema ("/default"'s, else Document)."""
        key = endpoint if self._schemas.get(endpoint) else "/default"  # bounded: callers name any endpoint
        found = self._by_endpoint.get(key)
        if found is None:
            found = self._by_endpoint[key] = self._class_of(key)
        return found

    def _class_of(self, endpoint: str) -> type[BaseDoc]:
        entry = self._schemas.get(endpoint) or {}
        schema = entry.get("input")
        if not schema:
            return Document
        key = json.dumps(schema, sort_keys=True)
        if key not in self._classes:
            try:
                self._classes[key] = create_base_doc_from_schema(dict(schema), str(schema.get("title", "Doc")), {})
            except (Exception, RecursionError) as exc:  # noqa: BLE001  (docarray cannot rebuild every schema)
                logger.info(
                    "no document class from the schema of %s (%s); using Document", endpoint, type(exc).__name__
                )
                self._classes[key] = Document
        return self._classes[key]

    def validate(self, items: Any, endpoint: str, where: str = "data") -> list[BaseDoc]:
        """JSON objects to documents of the endpoint's input class.

        Raises:
            DocumentSchemaError: an item is not an object or does not fit; the message names the field.
        """
        cls = self.input_class(endpoint)
        if isinstance(items, dict):
            items = [items]  # one document for a list of one
        elif not isinstance(items, list):
            raise DocumentSchemaError(
                f"{where} must be a list of documents (JSON objects), or one, not {type(items).__name__}"
            )
        docs = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise DocumentSchemaError(f"{where}[{index}] must be a JSON object, not {type(item).__name__}")
            try:
                prepared = _prepared(item, cls)
                doc = cls.model_validate(prepared)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{where}[{index}].{_field_path(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
                )
                raise DocumentSchemaError(
                    f"documents do not fit {cls.__name__} of endpoint {endpoint}: {problems}"
                ) from exc
            except DocumentSchemaError as exc:
                raise DocumentSchemaError(f"{where}[{index}]: {exc}") from exc
            except (TypeError, ValueError) as exc:
                # docarray's tensor validators raise TypeError past pydantic, naming no field: find it.
                field = _failing_field(cls, prepared)
                raise DocumentSchemaError(
                    f"documents do not fit {cls.__name__} of endpoint {endpoint}: {where}[{index}].{field}: {exc}"
                ) from exc
            if getattr(doc, "id", "") is None:
                doc.id = uuid.uuid4().hex  # type: ignore[assignment] # what BaseDoc's own default does; the rebuilt class makes id optional
            docs.append(doc)
        return docs

    def encode(self, items: Any, endpoint: str) -> bytes:
        """JSON objects to a serialized ``docwire.v1.DocList`` for ``endpoint``."""
        return encode_docs(self.validate(items, endpoint))  # validated once: no DocList to validate them again

    def encode_one(self, item: Any, endpoint: str) -> document_pb2.Doc:
        """One JSON object to a ``docwire.v1.Doc`` for ``endpoint``."""
        return encode_doc(self.validate([item], endpoint)[0])


def _failing_field(cls: type[BaseDoc], prepared: dict[str, Any]) -> str:
    """The first field of ``prepared`` that ``cls`` refuses on its own (only called once validation failed)."""
    for name, value in prepared.items():
        try:
            cls.model_validate({name: value})
        except (TypeError, ValueError):
            return name
    return "(a field)"


def _ndarray(message: document_pb2.NdArray) -> Any:
    """A tensor as a numpy array in native byte order, shaped: ``dumps`` writes it as nested number arrays
    straight from its buffer (with float32's shortest digits), ten times faster than via Python lists."""
    dense = message.dense
    array = np.frombuffer(dense.buffer, dtype=np.dtype(dense.dtype or "<f8"))
    if dense.shape:
        array = array.reshape(list(dense.shape))
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def dumps(content: Any) -> bytes:
    """JSON text for a reply (or an event, or a frame) holding documents: tensors are written from their
    buffers (orjson), numpy scalars as numbers, NaN and infinities as null (JSON has none)."""
    return orjson.dumps(content, default=_plain_default, option=orjson.OPT_SERIALIZE_NUMPY)


def to_plain(value: Any) -> Any:
    """``value`` with numpy arrays and scalars made lists and numbers (for writers other than ``dumps``)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    return value


def _plain_default(value: Any) -> Any:
    """What orjson cannot write itself: arrays of other dtypes or layouts, numpy scalars."""
    if isinstance(value, (np.ndarray, np.generic)):
        return to_plain(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _node(node: document_pb2.Node) -> Any:
    kind = node.WhichOneof("content")
    if kind is None:
        return None
    if kind in ("text", "integer", "float", "boolean"):
        return getattr(node, kind)
    if kind == "blob":
        return base64.b64encode(node.blob).decode()
    if kind == "ndarray":
        return _ndarray(node.ndarray)
    if kind == "doc":
        return doc_to_json(node.doc)
    if kind == "doc_array":
        return doc_list_to_json(node.doc_array)
    if kind == "dict":
        return {key: _node(value) for key, value in node.dict.data.items()}
    return [_node(item) for item in getattr(node, kind).data]  # list, set, tuple


def doc_to_json(doc: document_pb2.Doc) -> dict[str, Any]:
    """A wire document as a plain JSON object."""
    return {key: _node(value) for key, value in doc.data.items()}


def doc_list_to_json(docs: document_pb2.DocList) -> list[dict[str, Any]]:
    """Wire documents as a list of plain JSON objects."""
    return [doc_to_json(doc) for doc in docs.docs]
