"""Bare grpcio baseline for ``make bench``: a two-hop relay moving raw bytes.

client (this process) -> relay process (gateway stand-in) -> echo process (executor stand-in) -> back.
Every hop is grpc.aio on uvloop with raw-bytes methods (no (de)serializers), so the figures are
the floor docwire's gateway/executor path is compared against. The relay's Stream sends each
request to the echo as a unary call (the reference of the issues' targets); its Piped passes a
client stream's messages over one stream to the echo, the floor for a gateway that does the same.

    python bench/bare.py                     # run both workloads, print a table
    python bench/bare.py echo                # internal: echo server, prints its port
    python bench/bare.py relay HOST:PORT N   # internal: relay to HOST:PORT, prefetch N
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import select
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

# types-grpcio is not installed; the second code keeps the ignore valid once it is.
import grpc
import grpc.aio
import uvloop
from rich.console import Console
from rich.table import Column, Table

MAX_MESSAGE = 64 * 1024 * 1024
OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)]
HOST = "127.0.0.1"
SMALL_PAYLOAD = random.Random(0).randbytes(60)  # about one serialized small document
DOCS_PER_REQUEST = 100
STARTUP_TIMEOUT_S = 20.0
RPC_TIMEOUT_S = 120.0


def batch_payload(docs: int = DOCS_PER_REQUEST, dim: int = 512) -> bytes:
    """Random bytes the size of ``docs`` documents, each a float32[dim] embedding plus ~40 B overhead."""
    return random.Random(1).randbytes(docs * (dim * 4 + 40))


async def _echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


async def _echo_stream(
    requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[bytes, bytes]
) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request


def _piped_handler(upstream: grpc.aio.StreamStreamMultiCallable[bytes, bytes]) -> Any:
    """Relay/Piped: one stream to the echo per client stream, each message passed on as it comes."""

    async def piped(requests: AsyncIterator[bytes], _: grpc.aio.ServicerContext[bytes, bytes]) -> AsyncIterator[bytes]:
        call = upstream(timeout=RPC_TIMEOUT_S)

        async def pump() -> None:
            async for request in requests:
                await call.write(request)
            await call.done_writing()

        writer = asyncio.create_task(pump())
        try:
            async for reply in call:
                yield reply
            await writer
        finally:
            writer.cancel()

    return grpc.stream_stream_rpc_method_handler(piped)


def _relay_handlers(upstream: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes], prefetch: int) -> dict[str, Any]:
    async def call(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        reply: bytes = await upstream(request, timeout=RPC_TIMEOUT_S)
        return reply

    async def stream(requests: AsyncIterator[bytes], _: grpc.aio.ServicerContext[bytes, bytes]) -> AsyncIterator[bytes]:
        slots = asyncio.Semaphore(prefetch)  # at most `prefetch` upstream calls in flight
        done: asyncio.Queue[bytes | Exception | None] = asyncio.Queue()  # None: all replies queued
        tasks: set[asyncio.Task[None]] = set()

        async def forward(request: bytes) -> None:
            try:
                done.put_nowait(await upstream(request, timeout=RPC_TIMEOUT_S))
            except grpc.aio.AioRpcError as err:
                done.put_nowait(err)
            finally:
                slots.release()

        async def pump() -> None:
            async for request in requests:
                await slots.acquire()
                task = asyncio.create_task(forward(request))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*tasks)

        reader = asyncio.create_task(pump())
        reader.add_done_callback(lambda _: done.put_nowait(None))
        try:
            while (reply := await done.get()) is not None:  # replies leave in completion order
                if isinstance(reply, Exception):
                    raise reply
                yield reply
            await reader  # surfaces a failure reading the request stream
        finally:
            for task in (reader, *tasks):
                task.cancel()

    return {
        "Call": grpc.unary_unary_rpc_method_handler(call),
        "Stream": grpc.stream_stream_rpc_method_handler(stream),
    }


async def _serve(role: str, args: list[str]) -> None:
    server = grpc.aio.server(options=OPTIONS)
    channel = None
    if role == "echo" and not args:
        service = "bare.Echo"
        handlers: dict[str, Any] = {
            "Call": grpc.unary_unary_rpc_method_handler(_echo),
            "Stream": grpc.stream_stream_rpc_method_handler(_echo_stream),
        }
    elif role == "relay" and len(args) == 2:
        channel = grpc.aio.insecure_channel(args[0], options=OPTIONS)
        upstream: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary("/bare.Echo/Call")
        service, handlers = "bare.Relay", _relay_handlers(upstream, int(args[1]))
        handlers["Piped"] = _piped_handler(channel.stream_stream("/bare.Echo/Stream"))
    else:
        raise SystemExit(f"usage: {__doc__}")
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    port: int = server.add_insecure_port(f"{HOST}:0")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sys.stdout.write(f"{port}\n")  # handshake line read by spawn_server, not a report
    sys.stdout.flush()
    await stop.wait()
    await server.stop(grace=0.5)
    if channel is not None:
        await channel.close()


@contextlib.contextmanager
def spawn_server(script: str, *args: str) -> Iterator[int]:
    """Run ``script`` as a server process; yield the port it prints on its first line; stop it by PID on exit."""
    command = [sys.executable, str(Path(script).resolve()), *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], STARTUP_TIMEOUT_S)
        line = proc.stdout.readline() if ready else ""
        if not line.strip().isdigit():
            raise RuntimeError(f"{' '.join(args)} server reported no port (exit code {proc.poll()})")
        yield int(line)
    finally:
        proc.terminate()  # no-op once the process has exited
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()


@contextlib.contextmanager
def bare_system(prefetch: int = 100) -> Iterator[str]:
    """Start echo + relay processes; yield the relay's ``host:port``; stop both on exit."""
    with (
        spawn_server(__file__, "echo") as echo_port,
        spawn_server(__file__, "relay", f"{HOST}:{echo_port}", str(prefetch)) as relay_port,
    ):
        yield f"{HOST}:{relay_port}"


async def _latency(target: str, payload: bytes, n: int, warmup: int) -> list[float]:
    async with grpc.aio.insecure_channel(target, options=OPTIONS) as channel:
        await asyncio.wait_for(channel.channel_ready(), STARTUP_TIMEOUT_S)
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary("/bare.Relay/Call")
        samples: list[float] = []
        for i in range(warmup + n):
            start = time.perf_counter()
            reply = await call(payload, timeout=RPC_TIMEOUT_S)
            elapsed = time.perf_counter() - start
            if reply != payload:
                raise RuntimeError("relay returned a different payload")
            if i >= warmup:
                samples.append(elapsed)
        return samples


#: The relay's stream methods: one unary call to the echo per request, or one stream to it per client stream.
STREAM = "/bare.Relay/Stream"
PIPED = "/bare.Relay/Piped"


async def _stream_once(channel: grpc.aio.Channel, payload: bytes, n_requests: int, method: str = STREAM) -> float:
    """Seconds to stream ``n_requests`` copies of ``payload`` through ``method`` and read every reply.

    A relay's reply is the payload itself; docwire's gateway (``method`` its ``Stream``) answers with the
    request and the routes it and the executor stamp, so the reply is then at least as long.
    """
    exact = method in (STREAM, PIPED)
    call: grpc.aio.StreamStreamCall[bytes, bytes] = channel.stream_stream(method)(timeout=RPC_TIMEOUT_S)

    async def write_all() -> None:
        for _ in range(n_requests):
            await call.write(payload)
        await call.done_writing()

    start = time.perf_counter()
    writer = asyncio.create_task(write_all())
    try:
        for _ in range(n_requests):
            reply = await call.read()
            if not isinstance(reply, bytes) or len(reply) < len(payload) or (exact and len(reply) != len(payload)):
                raise RuntimeError(f"{method} ended early or returned a different payload")
        await writer
        if (code := await call.code()) != grpc.StatusCode.OK:
            raise RuntimeError(f"relay stream finished with {code}: {await call.details()}")
    finally:
        writer.cancel()
    return time.perf_counter() - start


async def _throughput(target: str, payload: bytes, n_requests: int, warmup: int, method: str = STREAM) -> float:
    async with grpc.aio.insecure_channel(target, options=OPTIONS) as channel:
        await asyncio.wait_for(channel.channel_ready(), STARTUP_TIMEOUT_S)
        if warmup:
            await _stream_once(channel, payload, warmup, method)
        return await _stream_once(channel, payload, n_requests, method)


def sequential_latency(n: int = 2000, warmup: int = 200, payload: bytes = SMALL_PAYLOAD) -> dict[str, float]:
    """One request at a time through Relay/Call; p50/p99/mean round trip in milliseconds.

    Spawns its own echo + relay processes and runs its own uvloop loop (call it from sync code).
    """
    with bare_system() as target:
        samples = uvloop.run(_latency(target, payload, n, warmup))
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "n": n,
        "payload_bytes": len(payload),
        "p50_ms": cuts[49] * 1e3,
        "p99_ms": cuts[98] * 1e3,
        "mean_ms": statistics.fmean(samples) * 1e3,
    }


def stream_throughput(
    payload: bytes,
    n_requests: int,
    prefetch: int = 100,
    *,
    warmup: int = 20,
    docs_per_request: int = DOCS_PER_REQUEST,
) -> dict[str, float]:
    """Stream ``n_requests`` copies of ``payload`` through Relay/Stream (relay keeps ``prefetch`` in flight).

    MB/s counts request payload bytes once (10**6 bytes per MB); replies of equal size come back too.
    Spawns its own echo + relay processes and runs its own uvloop loop (call it from sync code).
    """
    with bare_system(prefetch) as target:
        elapsed = uvloop.run(_throughput(target, payload, n_requests, min(warmup, n_requests)))
    return {
        "n_requests": n_requests,
        "payload_bytes": len(payload),
        "elapsed_s": elapsed,
        "req_per_s": n_requests / elapsed,
        "mb_per_s": n_requests * len(payload) / elapsed / 1e6,
        "docs_per_s": n_requests * docs_per_request / elapsed,
    }


def _report() -> None:
    lat = sequential_latency()
    thr = stream_throughput(batch_payload(), n_requests=200)
    seq = f"sequential Call, {lat['payload_bytes']:.0f} B x {lat['n']:.0f}"
    stream = f"Stream, {thr['payload_bytes'] / 1e3:.0f} kB x {thr['n_requests']:.0f}, prefetch 100"
    table = Table("workload", "figure", Column("value", justify="right"), title="bare grpcio relay baseline")
    table.add_row(seq, "p50", f"{lat['p50_ms']:.3f} ms")
    table.add_row("", "p99", f"{lat['p99_ms']:.3f} ms")
    table.add_row(stream, "elapsed", f"{thr['elapsed_s']:.3f} s")
    table.add_row("", "requests/s", f"{thr['req_per_s']:,.1f}")
    table.add_row("", "MB/s", f"{thr['mb_per_s']:,.1f}")
    table.add_row("", f"docs/s ({DOCS_PER_REQUEST}/request)", f"{thr['docs_per_s']:,.0f}")
    Console().print(table)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        uvloop.run(_serve(sys.argv[1], sys.argv[2:]))
    else:
        _report()
