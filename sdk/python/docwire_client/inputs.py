"""Turning what a user passes to ``post`` into serialized requests of ``request_size`` documents."""

from __future__ import annotations

import contextlib
import inspect
import itertools
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from docarray import BaseDoc

from docwire_contract.codec import LENGTH_DELIMITED, encode_docs, field_key, varint_bytes
from docwire_contract.v1 import request_pb2

__all__ = ["Inputs", "Outgoing", "RequestSpec", "batches", "build_request", "never_waits", "one_batch", "outgoing"]

#: Everything ``post`` accepts as input: nothing, one document, an iterable or
#: async iterable of documents, or a function returning one of those.
Inputs: TypeAlias = (
    BaseDoc
    | Iterable[BaseDoc]
    | AsyncIterable[BaseDoc]
    | Callable[[], Iterable[BaseDoc] | AsyncIterable[BaseDoc]]
    | None
)


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """What every request of one ``post`` call shares.

    ``envelope``: the serialized request around its id, written once (see ``build_request``).
    """

    endpoint: str
    parameters: Mapping[str, Any] | None = None
    target_executor: str | None = None
    timeout_ms: int | None = None
    envelope: tuple[bytes, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "envelope", _envelope(self))


#: The length of a request id (``uuid4().hex``).
_ID_LENGTH = 32


def _envelope(spec: RequestSpec) -> tuple[bytes, bytes]:
    """The bytes protobuf writes for ``spec``'s DataRequest before its request id, and after it.

    ``header.request_id`` (field 1) is the header's first field and ``header`` the request's,
    so the id sits at a fixed place: a request is these two with the id between them.
    """
    request = request_pb2.DataRequest()
    header = request.header
    header.exec_endpoint = spec.endpoint
    if spec.target_executor is not None:
        header.target_executor = spec.target_executor
    if spec.timeout_ms is not None:
        header.timeout = spec.timeout_ms
    if spec.parameters:
        request.parameters.update(dict(spec.parameters))
    rest = header.SerializeToString()
    parameters = request.parameters.SerializeToString() if request.HasField("parameters") else None
    after = rest if parameters is None else rest + _PARAMETERS_TAG + varint_bytes(len(parameters)) + parameters
    header_size = len(_REQUEST_ID_TAG) + 1 + _ID_LENGTH + len(rest)
    before = _HEADER_TAG + varint_bytes(header_size) + _REQUEST_ID_TAG + varint_bytes(_ID_LENGTH)
    return before, after


def never_waits(inputs: Inputs) -> bool:
    """Whether pulling ``inputs`` never waits on the event loop: no input, documents, or a sync iterable
    (a function's inputs count as waiting: they are known only once it is called)."""
    if inputs is None or isinstance(inputs, BaseDoc):
        return True
    return isinstance(inputs, Iterable) and not isinstance(inputs, AsyncIterable) and not callable(inputs)


async def batches(inputs: Inputs, request_size: int) -> AsyncGenerator[list[BaseDoc], None]:
    """Groups the inputs into lists of at most ``request_size`` documents.

    No input (None, or an empty iterable) gives one empty batch, so ``post(on)``
    and ``post(on, [])`` still call the endpoint once.
    Documents are pulled lazily: a generator of a million documents is never held whole.
    A synchronous iterable is cut with ``islice`` (one step per batch, not one per document).
    """
    if request_size < 1:
        raise ValueError(f"request_size must be at least 1, not {request_size}")
    source: Any = inputs() if callable(inputs) and not isinstance(inputs, BaseDoc) else inputs
    if source is None:
        yield []
        return
    if isinstance(source, BaseDoc):
        yield [source]
        return
    sent = False
    if isinstance(source, AsyncIterable):
        batch: list[BaseDoc] = []
        async for doc in source:
            batch.append(_checked(doc))
            if len(batch) == request_size:
                yield batch
                sent = True
                batch = []
        if batch or not sent:
            yield batch
        return
    iterator = _iterator(source)
    while batch := list(itertools.islice(iterator, request_size)):
        _check_all(batch)
        yield batch
        sent = True
    if not sent:
        yield []


def one_batch(inputs: Inputs, request_size: int) -> list[BaseDoc] | None:
    """The documents of the one request ``inputs`` make, when that is known without pulling them: no
    input, a document, or a sequence of at most ``request_size``; None otherwise (``batches`` cuts them).

    Raises:
        TypeError: an item of the sequence is not a document (as ``batches`` raises).
    """
    if request_size < 1:
        return None  # ``batches`` raises the ValueError
    if inputs is None:
        return []
    if isinstance(inputs, BaseDoc):
        return [inputs]
    if not isinstance(inputs, Sequence) or isinstance(inputs, (str, bytes)) or len(inputs) > request_size:
        return None
    docs = list(inputs)
    _check_all(docs)
    return docs


def _check_all(docs: list[Any]) -> None:
    """``_checked`` for each kind of item in ``docs`` (one check per type, not per document)."""
    for kind in set(map(type, docs)):
        if not issubclass(kind, BaseDoc):
            _checked(next(doc for doc in docs if type(doc) is kind))


def _checked(doc: Any) -> BaseDoc:
    if not isinstance(doc, BaseDoc):
        raise TypeError(f"inputs must be docarray documents (BaseDoc), got {type(doc).__name__}")
    return doc


def _iterator(source: Any) -> Iterator[Any]:
    if isinstance(source, Iterable) and not isinstance(source, (str, bytes, Mapping)):
        return iter(source)
    if inspect.isawaitable(source):
        raise TypeError("inputs must be documents or an iterable of them, not an awaitable; await it first")
    raise TypeError(f"inputs must be documents or an iterable of them, not {type(source).__name__}")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One serialized request on its way: kept until its reply comes, so a retry can re-send it."""

    request_id: str
    raw: bytes
    size: int  # documents it carries
    position: int  # its place in the input, for results_in_order


async def outgoing(
    spec: RequestSpec,
    request_batches: AsyncGenerator[list[BaseDoc], None],
    build: Callable[[RequestSpec, Sequence[BaseDoc]], tuple[str, bytes]] | None = None,
) -> AsyncGenerator[Outgoing, None]:
    """Serializes each batch when it is about to be sent (``build``: the transport's form, protobuf by
    default), numbering them in input order."""
    build = build or build_request
    position = 0
    async with contextlib.aclosing(request_batches):
        async for batch in request_batches:
            request_id, raw = build(spec, batch)
            yield Outgoing(request_id, raw, len(batch), position)
            position += 1


def build_request(spec: RequestSpec, docs: Sequence[BaseDoc]) -> tuple[str, bytes]:
    """One serialized DataRequest carrying ``docs``, and its request id."""
    request_id = uuid.uuid4().hex
    before, after = spec.envelope
    # The spec's envelope with the id in its place, then ``data`` (field 4, DataRequest's last
    # field): protobuf's own bytes. The codec writes this envelope before the documents, so
    # they are copied once (not into the message, out of it, and into a joined whole).
    envelope = b"".join((before, request_id.encode("ascii"), after))

    def head(size: int) -> bytes:
        content = _DOCS_BYTES_TAG + varint_bytes(size)
        return b"".join((envelope, _DATA_TAG, varint_bytes(len(content) + size), content))

    return request_id, encode_docs(docs, head)


#: The keys (field number, wire type 2) of ``DataRequest.data`` and ``DataContent.docs_bytes``.
_DATA_TAG = field_key(request_pb2.DataRequest.DATA_FIELD_NUMBER, LENGTH_DELIMITED)
_DOCS_BYTES_TAG = field_key(request_pb2.DataContent.DOCS_BYTES_FIELD_NUMBER, LENGTH_DELIMITED)
#: The keys of ``DataRequest.header``, ``DataRequest.parameters`` and ``Header.request_id``.
_HEADER_TAG = field_key(request_pb2.DataRequest.HEADER_FIELD_NUMBER, LENGTH_DELIMITED)
_PARAMETERS_TAG = field_key(request_pb2.DataRequest.PARAMETERS_FIELD_NUMBER, LENGTH_DELIMITED)
_REQUEST_ID_TAG = field_key(request_pb2.Header.REQUEST_ID_FIELD_NUMBER, LENGTH_DELIMITED)
