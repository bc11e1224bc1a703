"""What answering jina's HTTP client in docarray v1's JSON costs beside docwire's own JSON.

    python bench/legacy_json.py [--requests N] [--reps R]

One gateway (HTTP) in front of an executor that passes its documents through. The same requests
are posted one at a time with httpx, in two forms: docwire's JSON documents, and docarray v1's
``to_dict()`` of the same documents (every v1 field present, unset ones ``null``), which the
gateway recognises, translates in (``transports/legacy_json``) and answers as v1 objects. Each
request holds 8 documents (clip_client's batch size), each a text and a float32[384] embedding
(what a clip_client reply carries). The ratio is v1's requests/s over docwire's: what the
translation costs on the whole HTTP round trip.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from docwire import DocList, Document, Executor, Flow, requests

DOCS_PER_REQUEST = 8
DIM = 384
#: docarray v1's document fields, as its ``to_dict()`` writes every one of them.
V1_FIELDS = [
    "id",
    "parent_id",
    "granularity",
    "adjacency",
    "blob",
    "tensor",
    "mime_type",
    "text",
    "weight",
    "uri",
    "tags",
    "offset",
    "location",
    "embedding",
    "modality",
    "evaluations",
    "scores",
    "chunks",
    "matches",
]


class PassThrough(Executor):
    """Keeps the documents it is given (decoded into ``Document``, as the embedding service's are)."""

    @requests
    def keep(self, docs: DocList[Document], **kwargs: Any) -> None:
        """Reads each document's id, so the documents are decoded and encoded again."""
        for doc in docs:
            _ = doc.id


def bodies(n_requests: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The same requests as docwire's JSON and as docarray v1's."""
    rng = np.random.default_rng(0)
    plain, legacy = [], []
    for r in range(n_requests):
        docs = [
            {"id": f"{r}-{i}", "text": f"sentence {i} of request {r}", "embedding": row.tolist()}
            for i, row in enumerate(rng.random((DOCS_PER_REQUEST, DIM), dtype=np.float32))
        ]
        plain.append({"data": docs, "execEndpoint": "/"})
        v1 = [{field: doc.get(field) for field in V1_FIELDS} for doc in docs]
        legacy.append({"header": {"exec_endpoint": "/"}, "exec_endpoint": "/", "parameters": {}, "data": v1})
    return plain, legacy


def requests_per_second(url: str, posts: Sequence[dict[str, Any]]) -> float:
    """Posts each body in turn; fails on any non-200 answer."""
    with httpx.Client(timeout=60) as client:
        client.post(url, json=posts[0]).raise_for_status()  # warm: schemas, connection
        start = time.perf_counter()
        for body in posts:
            client.post(url, json=body).raise_for_status()
        return len(posts) / (time.perf_counter() - start)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    plain, legacy = bodies(args.requests)
    rows: list[tuple[float, float]] = []
    with Flow(host="127.0.0.1", protocol="http").add(uses=PassThrough, name="pass") as flow:
        url = f"http://127.0.0.1:{flow.port}/post"
        reply = httpx.post(url, json=legacy[0], timeout=60).json()["data"][0]
        assert "parent_id" not in reply, "the v1 body was not recognised"  # answered as v1: no nulls
        for _ in range(args.reps):
            rows.append((requests_per_second(url, plain), requests_per_second(url, legacy)))
    table = Table(title=f"HTTP, {DOCS_PER_REQUEST} documents (text + float32[{DIM}]) per request, sequential")
    for column in ("run", "docwire JSON req/s", "docarray v1 JSON req/s", "v1 / docwire"):
        table.add_column(column, justify="right")
    for i, (ours, theirs) in enumerate(rows, 1):
        table.add_row(str(i), f"{ours:.0f}", f"{theirs:.0f}", f"{theirs / ours:.2f}")
    median = statistics.median(theirs / ours for ours, theirs in rows)
    table.add_row("median", "", "", f"{median:.2f}")
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
