"""The embedding service as a Flow: encoder, then indexer, behind one gateway (``docwire serve embed``)."""

from __future__ import annotations

from collections.abc import Sequence

from docwire.embed.vector_index import IndexKind
from docwire.orchestration.flow import Flow

__all__ = ["embed_flow"]


def embed_flow(
    *,
    port: int | Sequence[int] | None = None,
    protocol: str | Sequence[str] = ("grpc", "http"),
    host: str = "0.0.0.0",
    workspace: str | None = None,
    index: IndexKind = "flat",
    encoder_replicas: int = 1,
    threads: int = 0,
    allow_local_files: bool = False,
    cors: bool = False,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> Flow:
    """The embedding service: ``/encode`` (and ``/``), ``/rank``, ``/index``, ``/search``.

    Args:
        port: the gateway's port(s); one per protocol, or None for free ones (see ``flow.ports``).
        protocol: the protocols served side by side (gRPC and HTTP by default).
        workspace: where the indexer keeps its documents (None: a temporary folder, lost on exit).
        index: ``"flat"`` (exact) or ``"hnsw"`` (approximate) vector search.
        encoder_replicas: encoder processes (each runs both models).
        threads: ONNX Runtime threads per encoder replica (0: one per core).
        allow_local_files: let the encoder read ``file://`` uris and paths on this machine.
        cors: let browsers on other origins call the HTTP port.
        ssl_certfile, ssl_keyfile: serve clients over TLS (``grpcs://``, ``https://``) with this PEM pair.
    """
    encoder_settings = {"threads": threads, "allow_local_files": allow_local_files}
    return (
        Flow(port=port, protocol=protocol, host=host, cors=cors, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
        .add(
            uses="docwire.embed.encoder.Encoder", name="encoder", replicas=encoder_replicas, uses_with=encoder_settings
        )
        .add(uses="docwire.embed.indexer.Indexer", name="indexer", uses_with={"index": index}, workspace=workspace)
    )
