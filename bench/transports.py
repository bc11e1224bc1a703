"""HTTP/JSON and WebSocket beside gRPC, each against a bare ASGI echo app on the same server stack.

    python bench/transports.py [--docs N] [--reps R] [-n SEQUENTIAL]

One docwire gateway serves ``protocol=['grpc', 'http', 'websocket']`` in front of the no-op
executor of ``bench/run.py``; the baseline is an ASGI app that answers each HTTP body or
WebSocket frame with itself, served by the same ``start_http_server`` (uvicorn, h11, uvloop,
the same WebSocket implementation) in a process of its own. Both get the same requests from the
same clients (httpx and websockets) at the same concurrency, so the ratio is what the gateway
and the executor cost on top of the server stack:

- throughput: ``--docs`` documents with a float32[512] embedding, 100 per request, as JSON with
  the compact tensor form (``{"buffer", "dtype", "shape"}``); HTTP with ``PREFETCH`` calls in flight,
  WebSocket with ``PREFETCH`` requests in flight on one socket;
- sequential: one small document per request, one at a time (p50).

The docwire Python client's own figures (``Client.post`` over http://, grpc:// and ws://) are
printed too, for what a user sees end to end. The echo does no work at all: docwire's figures
include parsing, schema validation, the gRPC hop to the executor and back, and writing tensors
as JSON number arrays (replies are about twice the size of the compact requests the echo returns).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import statistics
import sys
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import uvloop
from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import connect

from docwire import Client, Flow
from docwire.transports.http import start_http_server

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the script runs with bench/ on sys.path
    from bench import workloads
else:
    import workloads

PREFETCH = 8
END = json.dumps({"end": True})


# ---------------------------------------------------------------------------- the bare echo app


async def _echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers an HTTP body with itself, and each WebSocket frame with itself (closing after the end marker)."""
    if scope["type"] == "http":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept", "subprotocol": "json"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": message["text"]})
            if message["text"] == END:
                await send({"type": "websocket.close", "code": 1000})
                return


def _serve_echo(pipe: Connection) -> None:
    async def main() -> None:
        server = await start_http_server(_echo_app, "127.0.0.1", 0)  # type: ignore[arg-type]
        pipe.send(server.port)
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # until told to stop
        await server.stop()

    uvloop.run(main())


# ---------------------------------------------------------------------------- the workloads


def _bodies(n_docs: int) -> list[str]:
    """The throughput requests: ``POST /post`` bodies (and json frames) of 100 compact-tensor documents each."""
    block = np.random.default_rng(0).random((n_docs, workloads.DIM), dtype=np.float32)
    bodies = []
    for start in range(0, n_docs, workloads.DOCS_PER_REQUEST):
        docs = [
            {"embedding": {"buffer": base64.b64encode(row.tobytes()).decode(), "dtype": "<f4", "shape": [row.size]}}
            for row in block[start : start + workloads.DOCS_PER_REQUEST]
        ]
        bodies.append(json.dumps({"execEndpoint": workloads.THROUGHPUT_ENDPOINT, "data": docs}))
    return bodies


SMALL = json.dumps({"execEndpoint": workloads.TEXT_ENDPOINT, "data": [{"text": "hello"}]})


async def http_throughput(url: str, bodies: Sequence[str]) -> float:
    """Requests per second over HTTP with ``PREFETCH`` calls in flight."""
    slots = asyncio.Semaphore(PREFETCH)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=PREFETCH)) as client:

        async def one(body: str) -> None:
            async with slots:
                reply = await client.post(url, content=body, headers=headers)
                reply.raise_for_status()
                reply.json()

        start = time.perf_counter()
        await asyncio.gather(*(one(body) for body in bodies))
        return len(bodies) / (time.perf_counter() - start)


async def http_sequential(url: str, n: int) -> float:
    """p50 seconds of one small request at a time."""
    samples = []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(n):
            start = time.perf_counter()
            reply = await client.post(url, content=SMALL, headers={"content-type": "application/json"})
            reply.raise_for_status()
            reply.json()
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def ws_throughput(url: str, bodies: Sequence[str]) -> float:
    """Requests per second over one WebSocket with ``PREFETCH`` requests in flight, then the end marker."""
    async with connect(url, subprotocols=["json"], max_size=None) as ws:  # type: ignore[list-item]
        start = time.perf_counter()
        answered = 0
        for body in bodies[:PREFETCH]:
            await ws.send(body)
        sent = min(PREFETCH, len(bodies))
        while answered < len(bodies):
            json.loads(await ws.recv())
            answered += 1
            if sent < len(bodies):
                await ws.send(bodies[sent])
                sent += 1
        elapsed = time.perf_counter() - start
        await ws.send(END)
        await ws.recv()
        return len(bodies) / elapsed


async def ws_sequential(url: str, n: int) -> float:
    samples = []
    async with connect(url, subprotocols=["json"]) as ws:  # type: ignore[list-item]
        for _ in range(n):
            start = time.perf_counter()
            await ws.send(SMALL)
            json.loads(await ws.recv())
            samples.append(time.perf_counter() - start)
        await ws.send(END)
        await ws.recv()
    return statistics.median(samples)


def client_throughput(port: int, protocol: str, docs: Sequence[workloads.EmbedDoc]) -> float:
    with Client(host="127.0.0.1", port=port, protocol=protocol) as client:
        start = time.perf_counter()
        got = client.post(workloads.THROUGHPUT_ENDPOINT, docs, request_size=workloads.DOCS_PER_REQUEST)
        elapsed = time.perf_counter() - start
    if len(got) != len(docs):
        raise RuntimeError(f"expected {len(docs)} documents back, got {len(got)}")
    return len(docs) / elapsed


def client_sequential(port: int, protocol: str, n: int) -> float:
    samples = []
    with Client(host="127.0.0.1", port=port, protocol=protocol) as client:
        for _ in range(n):
            start = time.perf_counter()
            client.post(workloads.TEXT_ENDPOINT, workloads.small_doc())
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


# ---------------------------------------------------------------------------- the run


def measure(n_docs: int, reps: int, n: int) -> list[tuple[str, str, float, float | None]]:
    """(row, unit, docwire, bare) per figure, medians of ``reps`` runs."""
    bodies = _bodies(n_docs)
    docs = workloads.embed_docs(n_docs)
    figures: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    parent, child = multiprocessing.Pipe()
    echo = multiprocessing.get_context("spawn").Process(target=_serve_echo, args=(child,), daemon=True)
    echo.start()
    bare_port = parent.recv()
    flow = Flow(host="127.0.0.1", protocol=["grpc", "http", "websocket"]).add(uses=workloads.NoOp, name="noop")
    try:
        with flow:
            http_url, ws_url = (
                f"http://127.0.0.1:{flow.ports['http']}/post",
                f"ws://127.0.0.1:{flow.ports['websocket']}/",
            )
            bare_http, bare_ws = f"http://127.0.0.1:{bare_port}/post", f"ws://127.0.0.1:{bare_port}/"
            for _ in range(reps):
                add("http docs/s", asyncio.run(http_throughput(http_url, bodies)) * workloads.DOCS_PER_REQUEST)
                add("bare http docs/s", asyncio.run(http_throughput(bare_http, bodies)) * workloads.DOCS_PER_REQUEST)
                add("ws docs/s", asyncio.run(ws_throughput(ws_url, bodies)) * workloads.DOCS_PER_REQUEST)
                add("bare ws docs/s", asyncio.run(ws_throughput(bare_ws, bodies)) * workloads.DOCS_PER_REQUEST)
                add("http p50", asyncio.run(http_sequential(http_url, n)))
                add("bare http p50", asyncio.run(http_sequential(bare_http, n)))
                add("ws p50", asyncio.run(ws_sequential(ws_url, n)))
                add("bare ws p50", asyncio.run(ws_sequential(bare_ws, n)))
                add("client http docs/s", client_throughput(flow.ports["http"], "http", docs))
                add("client grpc docs/s", client_throughput(flow.ports["grpc"], "grpc", docs))
                add("client ws docs/s", client_throughput(flow.ports["websocket"], "websocket", docs))
                add("client http p50", client_sequential(flow.ports["http"], "http", n))
                add("client grpc p50", client_sequential(flow.ports["grpc"], "grpc", n))
                add("client ws p50", client_sequential(flow.ports["websocket"], "websocket", n))
    finally:
        parent.send("stop")
        echo.join(timeout=10)
        if echo.is_alive():
            echo.kill()
    med = {name: statistics.median(values) for name, values in figures.items()}
    return [
        ("HTTP/JSON, 100 docs/request, 8 in flight", "docs/s", med["http docs/s"], med["bare http docs/s"]),
        ("WebSocket json, 100 docs/request, 8 in flight", "docs/s", med["ws docs/s"], med["bare ws docs/s"]),
        ("HTTP/JSON sequential p50", "ms", med["http p50"] * 1e3, med["bare http p50"] * 1e3),
        ("WebSocket sequential p50", "ms", med["ws p50"] * 1e3, med["bare ws p50"] * 1e3),
        ("Client.post over http://", "docs/s", med["client http docs/s"], None),
        ("Client.post over grpc://", "docs/s", med["client grpc docs/s"], None),
        ("Client.post over ws:// (bytes)", "docs/s", med["client ws docs/s"], None),
        ("Client sequential p50, http://", "ms", med["client http p50"] * 1e3, None),
        ("Client sequential p50, grpc://", "ms", med["client grpc p50"] * 1e3, None),
        ("Client sequential p50, ws://", "ms", med["client ws p50"] * 1e3, None),
    ]


def _figure(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if unit == "docs/s" else f"{value:.2f} {unit}"


def report(rows: Sequence[tuple[str, str, float, float | None]], n_docs: int, reps: int, n: int) -> None:
    table = Table(title=f"docwire HTTP and WebSocket vs a bare ASGI echo ({n_docs} docs, {n} sequential, {reps} reps)")
    for column in ("workload", "docwire", "bare ASGI echo", "docwire / bare"):
        table.add_column(column, justify="left" if column == "workload" else "right")
    for name, unit, ours, bare in rows:
        ratio = "" if bare is None else f"{ours / bare:.2f}"
        table.add_row(name, _figure(ours, unit), "" if bare is None else _figure(bare, unit), ratio)
    Console().print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=5000, help="documents per throughput run")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("-n", type=int, default=300, help="sequential requests per repetition")
    args = parser.parse_args(argv)
    report(measure(args.docs, args.reps, args.n), args.docs, args.reps, args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
