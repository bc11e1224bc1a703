"""A reply from a Flow: header, parameters, routes and documents, decoded on demand."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from docarray import BaseDoc, DocList
from google.protobuf import json_format

from docwire_contract.codec import decode_docs
from docwire_contract.doc_types import doclist_of, from_json_values
from docwire_contract.errors import DocwireError, error_from_reply_status
from docwire_contract.v1 import request_pb2

__all__ = ["Response"]

T = TypeVar("T", bound=BaseDoc)


class Response(Generic[T]):
    """One reply, wrapping the ``docwire.v1.DataRequest`` message.

    Documents are decoded into ``doc_type`` the first time ``docs`` is read.
    """

    __slots__ = ("_docs", "_json_docs", "_parameters", "doc_type", "message")

    def __init__(
        self, message: request_pb2.DataRequest, doc_type: type[T], *, json_docs: list[dict[str, Any]] | None = None
    ) -> None:
        self.message = message
        self.doc_type = doc_type
        self._json_docs = json_docs  # the documents of a reply that came as JSON (HTTP), not in ``message``
        self._docs: DocList[T] | None = None
        self._parameters: dict[str, Any] | None = None

    @property
    def header(self) -> request_pb2.Header:
        """The reply's header (request id, endpoint, status)."""
        return self.message.header

    @property
    def request_id(self) -> str:
        """The id of the request this replies to."""
        return self.message.header.request_id

    @property
    def status(self) -> request_pb2.Status:
        """The outcome: ``status.code``, ``status.description``, ``status.exception``."""
        return self.message.header.status

    @property
    def is_error(self) -> bool:
        """Whether an executor raised while handling the request."""
        return self.message.header.status.code != request_pb2.Status.CODE_SUCCESS

    @property
    def routes(self) -> list[request_pb2.Route]:
        """The hops: the gateway's first, then one per executor, with start and end times."""
        return list(self.message.routes)

    @property
    def parameters(self) -> dict[str, Any]:
        """The parameters, with executors' dict results under ``"__results__"``."""
        if self._parameters is None:
            message = self.message
            self._parameters = json_format.MessageToDict(message.parameters) if message.HasField("parameters") else {}
        return self._parameters

    @property
    def docs(self) -> DocList[T]:
        """The documents, decoded into ``doc_type``."""
        if self._docs is None and self._json_docs is not None:
            cls = self.doc_type
            self._docs = doclist_of(cls, (cls.model_validate(from_json_values(cls, d)) for d in self._json_docs))
        if self._docs is None:
            data = self.message.data
            form = data.WhichOneof("documents")
            raw = data.docs.SerializeToString() if form == "docs" else data.docs_bytes
            self._docs = decode_docs(raw, self.doc_type)
        return self._docs

    def error(self) -> DocwireError:
        """The error this reply's status stands for: ExecutorError when an executor raised,
        else the DocwireError the gateway named (EndpointNotFound, ExecutorUnavailable, ...)."""
        return error_from_reply_status(self.status, self)

    def to_dict(self) -> dict[str, Any]:
        """The reply as a JSON-like dict; documents as their field dicts."""
        as_dict = json_format.MessageToDict(self.message, preserving_proto_field_name=True)
        as_dict["parameters"] = self.parameters
        as_dict["data"] = [doc.dict() for doc in self.docs]
        return as_dict

    def __repr__(self) -> str:
        return f"<Response {self.request_id} status={'error' if self.is_error else 'ok'} routes={len(self.routes)}>"
