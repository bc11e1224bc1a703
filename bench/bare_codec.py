"""A client written by hand on bare ``grpc.aio`` with docwire's codec: the floor for a client that moves documents.

Bare's own client (``bare.py``) sends one cached, pre-serialized payload and reads replies as
bytes; a client that has documents to send and wants documents back must also encode each
request and decode each reply. This one does exactly that and nothing else: each request
encoded from its 100 documents when it is written (``workloads.batch_request``: docwire's
encoder, the bytes docwire's client sends), each reply parsed and its documents decoded into
``Document`` (``decode_docs``), then dropped, as an ``on_done`` callback that reads them does. No
flow control, retries, ordering, callbacks or progress: what docwire's client adds over this is
what its row against this floor shows (``bench/run.py``, "vs bare + codec").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc

from docwire_contract.codec import decode_docs
from docwire_contract.doc_types import Document
from docwire_contract.v1 import request_pb2

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import bare, workloads
else:
    import bare
    import workloads

__all__ = ["stream_documents"]


async def stream_documents(target: str, docs: Sequence[workloads.EmbedDoc], method: str = bare.STREAM) -> float:
    """Streams ``docs`` through the relay at ``target`` 100 to a request, encoding and decoding; seconds taken."""
    size = workloads.DOCS_PER_REQUEST
    batches = [docs[start : start + size] for start in range(0, len(docs), size)]
    async with grpc.aio.insecure_channel(target, options=bare.OPTIONS) as channel:
        await asyncio.wait_for(channel.channel_ready(), bare.STARTUP_TIMEOUT_S)
        call: grpc.aio.StreamStreamCall[bytes, bytes] = channel.stream_stream(method)(timeout=bare.RPC_TIMEOUT_S)

        async def write_all() -> None:
            for batch in batches:
                await call.write(workloads.batch_request(batch))
            await call.done_writing()

        start = time.perf_counter()
        writer = asyncio.create_task(write_all())
        decoded = 0
        try:
            for _ in batches:
                reply = await call.read()
                if not isinstance(reply, bytes):
                    raise RuntimeError("relay stream ended early")
                decoded += len(decode_docs(request_pb2.DataRequest.FromString(reply).data.docs_bytes, Document))
            await writer
        finally:
            writer.cancel()
        elapsed = time.perf_counter() - start
    if decoded != len(docs):
        raise RuntimeError(f"expected {len(docs)} documents back, decoded {decoded}")
    return elapsed
