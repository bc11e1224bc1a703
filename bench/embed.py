"""``make bench``: the embedding service (``docwire serve embed``) against its own models called in-process.

1. Throughput: texts/s and images/s through the service (``EmbedClient.encode`` over gRPC:
   client -> gateway -> encoder and back) at ``batch_size`` 8, 32 and 100, beside the same
   ``TextEncoder`` / ``ImageEncoder`` called in this process with the same ONNX Runtime
   threads and batches: the physical limit on this machine. Images are 640x480 JPEGs sent
   as bytes; both sides decode, resize and embed them. The two are measured in turns within
   each repetition, the median of ``--reps`` reported, every repetition listed.
2. Index: 100,000 unit vectors of 384 floats (a 64-dimensional latent structure plus noise,
   as sentence embeddings have; i.i.d. random vectors are the worst case of every graph
   index) added through the service, then 1,000 queries searched through it; recall@10
   against exact search (numpy), queries/s; the same flat index in-process, one query at a
   time and in batches of 100. Then faiss HNSW in-process at several ``ef_search``
   (``--hnsw``; its build takes two minutes on 2 cores).
3. Client memory: ``EmbedClient.encode`` pulls 1,000,000 strings from a generator with an
   ``on_done`` callback, in a client process of its own, against a Flow whose executor
   answers with a constant embedding (the model would take hours): the client's peak RSS.

    .venv/bin/python bench/embed.py            # about 6 minutes on 2 cores
    .venv/bin/python bench/embed.py --quick    # one repetition, fewer inputs, no memory run
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from docarray import DocList
from numpy.typing import NDArray
from PIL import Image, ImageDraw
from rich.console import Console
from rich.table import Table

from docwire import Document, EmbedClient, Executor, Flow, requests
from docwire.embed.image_encoder import ImageEncoder
from docwire.embed.image_preprocessing import decode_image
from docwire.embed.service import embed_flow
from docwire.embed.text_encoder import TextEncoder
from docwire.embed.vector_index import FlatIndex, HnswIndex

BATCHES = (8, 32, 100)
WORDS = (
    "the",
    "a",
    "photo",
    "of",
    "dog",
    "cat",
    "city",
    "river",
    "mountain",
    "market",
    "report",
    "quarterly",
    "revenue",
    "smiled",
    "pain",
    "train",
    "left",
    "noon",
    "chef",
    "slices",
    "fresh",
    "tomatoes",
    "zebra",
    "savanna",
    "stock",
    "fell",
    "sharply",
    "children",
    "play",
    "park",
    "sunny",
    "beach",
    "old",
    "lighthouse",
    "rocky",
    "coast",
    "bowl",
    "ramen",
    "engineer",
    "builds",
    "bridge",
    "across",
    "valley",
    "night",
    "sky",
    "stars",
    "music",
    "festival",
    "crowd",
)


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` sentences of 8-16 words (about 12 tokens, as the research figures used)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(8, 17)))) for _ in range(n)]


def photos(n: int, seed: int = 0) -> list[bytes]:
    """``n`` 640x480 JPEGs with gradients and shapes (compressible like photos, unlike noise)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        ramp = np.linspace(0, 255, 640, dtype=np.float32)[None, :, None] * rng.random(3)[None, None, :]
        image = Image.fromarray(np.broadcast_to(ramp, (480, 640, 3)).astype("uint8"))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = int(rng.integers(0, 560)), int(rng.integers(0, 400))
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            draw.ellipse((x, y, x + int(rng.integers(20, 80)), y + int(rng.integers(20, 80))), fill=colour)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def rate(run: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


def throughput(client: EmbedClient, texts: list[str], images: list[bytes], reps: int) -> list[dict[str, Any]]:
    """Per modality and batch size: service and in-process rates, each repetition."""
    text_model, image_model = TextEncoder(), ImageEncoder()

    def text_inprocess(batch: int) -> None:
        for i in range(0, len(texts), batch):
            text_model.encode(texts[i : i + batch])

    def image_inprocess(batch: int) -> None:
        for i in range(0, len(images), batch):
            image_model.encode([decode_image(blob, "bench") for blob in images[i : i + batch]])

    blobs = [Document(blob=blob) for blob in images]
    cases: list[tuple[str, int, Callable[[int], object], Callable[[int], object]]] = [
        ("texts", len(texts), text_inprocess, lambda b: client.encode(texts, batch_size=b)),
        ("images", len(images), image_inprocess, lambda b: client.encode(blobs, batch_size=b)),
    ]
    text_inprocess(32)  # warm both paths up
    client.encode(texts[:64], batch_size=32)
    image_inprocess(8)
    client.encode(blobs[:8], batch_size=8)
    rows = []
    for (kind, count, local, remote), batch in ((case, batch) for case in cases for batch in BATCHES):
        service, inprocess = [], []
        for _ in range(reps):
            service.append(rate(lambda: remote(batch), count))  # noqa: B023 (called at once)
            inprocess.append(rate(lambda: local(batch), count))  # noqa: B023
        rows.append({"kind": kind, "batch": batch, "service": service, "inprocess": inprocess})
    return rows


def lowrank_vectors(n: int, dim: int = 384, latent: int = 64, seed: int = 0) -> NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(latent, dim)).astype(np.float32)
    vectors = rng.normal(size=(n, latent)).astype(np.float32) @ basis + 0.3 * rng.normal(size=(n, dim)).astype(
        np.float32
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def exact_top(data: NDArray[np.float32], queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
    scores = queries @ data.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def recall(found: Sequence[Sequence[int]], truth: NDArray[np.int64]) -> float:
    hits = sum(len(set(row) & set(truth_row.tolist())) for row, truth_row in zip(found, truth, strict=True))
    return hits / truth.size


def index_figures(client: EmbedClient, n: int, n_queries: int, hnsw: bool) -> dict[str, Any]:
    data = lowrank_vectors(n)
    queries = lowrank_vectors(n_queries, seed=1)
    truth = exact_top(data, queries, 10)
    figures: dict[str, Any] = {"vectors": n, "queries": n_queries}
    started = time.perf_counter()
    client.index(
        (Document(id=str(i), embedding=vector) for i, vector in enumerate(data)),
        batch_size=1000,
        on_done=lambda response: None,
    )
    figures["service_add_per_s"] = n / (time.perf_counter() - started)
    found: list[list[int]] = []
    started = time.perf_counter()
    for result in client.search([Document(embedding=q) for q in queries], limit=10, batch_size=1):
        found.append([int(match.id) for match in result.matches])
    figures["service_qps"] = n_queries / (time.perf_counter() - started)
    figures["service_recall"] = recall(found, truth)
    flat = FlatIndex(384)
    flat.add(data)
    started = time.perf_counter()
    flat_found = [flat.search(q[None, :], 10)[1][0].tolist() for q in queries]
    figures["flat_qps"] = n_queries / (time.perf_counter() - started)
    figures["flat_recall"] = recall(flat_found, truth)
    started = time.perf_counter()
    for i in range(0, n_queries, 100):
        flat.search(queries[i : i + 100], 10)
    figures["flat_batched_qps"] = n_queries / (time.perf_counter() - started)
    if hnsw:
        graph = HnswIndex(384)
        started = time.perf_counter()
        graph.add(data)
        figures["hnsw_build_s"] = time.perf_counter() - started
        for ef in (64, 128, 256):
            graph.ef_search = ef
            started = time.perf_counter()
            graph_found = [graph.search(q[None, :], 10)[1][0].tolist() for q in queries]
            figures[f"hnsw_ef{ef}_qps"] = n_queries / (time.perf_counter() - started)
            figures[f"hnsw_ef{ef}_recall"] = recall(graph_found, truth)
    return figures


class ConstantEmbedder(Executor):
    """Answers every document with one fixed embedding: the client's side of the memory run."""

    vector = np.linspace(-1, 1, 384, dtype=np.float32)

    @requests(on="/")
    def encode(self, docs: DocList[Document], **kwargs: Any) -> DocList[Document]:
        for doc in docs:
            doc.embedding = self.vector  # type: ignore[assignment]
            doc.text = None
        return docs


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_client(port: int, n: int) -> dict[str, float]:
    """Runs in its own process: encode a generator of ``n`` strings with a callback; peak RSS before and after."""
    client = EmbedClient(f"grpc://127.0.0.1:{port}")
    client.encode(["warm up"], on_done=lambda response: None)
    before = _peak_rss_mb()
    seen = 0

    def count(response: Any) -> None:
        nonlocal seen
        seen += len(response.docs)

    def strings() -> Iterator[str]:
        for i in range(n):
            yield f"sentence number {i} of the generator"

    started = time.perf_counter()
    client.encode(strings(), batch_size=100, on_done=count)
    elapsed = time.perf_counter() - started
    client.close()
    return {"strings": float(seen), "seconds": elapsed, "rss_after_start_mb": before, "peak_rss_mb": _peak_rss_mb()}


def memory_figures(n: int) -> dict[str, float]:
    with Flow(host="127.0.0.1").add(uses=ConstantEmbedder) as flow:
        done = subprocess.run(
            [sys.executable, __file__, "--memory-client", str(flow.port), "--strings", str(n)],
            capture_output=True,
            text=True,
            timeout=3600,
            check=True,
        )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _runs(values: Sequence[float]) -> str:
    return " ".join(f"{v:,.1f}" for v in values)


def report(
    console: Console, rows: list[dict[str, Any]], index: dict[str, Any] | None, memory: dict[str, float] | None
) -> None:
    table = Table(title="embedding service vs the same model in-process, median of the runs")
    for column in ("input", "batch", "service/s", "in-process/s", "ratio", "target", "runs: service | in-process"):
        table.add_column(column, justify="right" if "/s" in column or column in ("batch", "ratio") else "left")
    for row in rows:
        service, inprocess = statistics.median(row["service"]), statistics.median(row["inprocess"])
        ratio = service / inprocess
        target = ("PASS" if ratio >= 0.8 else "MISS") + " (>= 0.8)" if row["batch"] == 32 else ""
        runs = f"{_runs(row['service'])} | {_runs(row['inprocess'])}"
        table.add_row(
            row["kind"], str(row["batch"]), f"{service:,.1f}", f"{inprocess:,.1f}", f"{ratio:.2f}", target, runs
        )
    console.print(table)
    if index is not None:
        console.print(
            f"index: {index['vectors']:,} x 384 added through the service at "
            f"{index['service_add_per_s']:,.0f} vectors/s; "
            f"{index['queries']:,} queries one by one through the service: {index['service_qps']:,.0f} queries/s, "
            f"recall@10 {index['service_recall']:.3f} (flat, exact). In-process flat: {index['flat_qps']:,.0f} "
            f"queries/s one by one, {index['flat_batched_qps']:,.0f} in batches of 100, "
            f"recall@10 {index['flat_recall']:.3f}."
        )
        if "hnsw_build_s" in index:
            parts = ", ".join(
                f"ef {ef}: {index[f'hnsw_ef{ef}_qps']:,.0f} q/s recall@10 {index[f'hnsw_ef{ef}_recall']:.3f}"
                for ef in (64, 128, 256)
            )
            console.print(f"hnsw (M 32, ef_construction 128) built in {index['hnsw_build_s']:.0f} s; {parts}.")
    if memory is not None:
        console.print(
            f"client memory: {memory['strings']:,.0f} strings from a generator through EmbedClient.encode(on_done=...) "
            f"in {memory['seconds']:.0f} s: RSS {memory['rss_after_start_mb']:.0f} MB after start-up, "
            f"peak {memory['peak_rss_mb']:.0f} MB."
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each throughput row (median reported)")
    parser.add_argument("--texts", type=int, default=800, help="sentences per throughput measurement")
    parser.add_argument("--images", type=int, default=200, help="images per throughput measurement")
    parser.add_argument("--vectors", type=int, default=100_000, help="vectors in the index")
    parser.add_argument("--hnsw", action="store_true", help="also build and query an HNSW index in-process")
    parser.add_argument("--strings", type=int, default=1_000_000, help="strings in the client memory run")
    parser.add_argument("--quick", action="store_true", help="one repetition, fewer inputs, no memory run")
    parser.add_argument("--memory-client", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_client is not None:
        print(json.dumps(memory_client(args.memory_client, args.strings)))
        return 0
    if args.quick:
        args.reps, args.texts, args.images, args.vectors = 1, 200, 48, 20_000
    console = Console()
    texts, images = sentences(args.texts), photos(args.images)
    with embed_flow(host="127.0.0.1", protocol="grpc") as flow, EmbedClient(f"grpc://127.0.0.1:{flow.port}") as client:
        rows = throughput(client, texts, images, args.reps)
        index = index_figures(client, args.vectors, 1000, args.hnsw)
    memory = None if args.quick else memory_figures(args.strings)
    report(console, rows, index, memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
