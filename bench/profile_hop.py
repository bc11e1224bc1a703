"""Where docwire's time goes on the ``make bench`` workloads, next to the bare relay.

    .venv/bin/python bench/profile_hop.py                 # everything below, about 40 s
    .venv/bin/python bench/profile_hop.py --only client   # one part: client, servers, cpu, costs
    .venv/bin/python bench/run.py --profile ...           # the same, through run.py

Parts:

* ``client``: the throughput workload (20,000 EmbedDocs, 100 per request, replies decoded
  into the default ``Document`` and collected, as ``Client.post`` does) under ``cProfile`` in
  this process: top 25 by cumulative time, top 15 by own time. It drives the
  ``AsyncClient`` on this thread: the sync ``Client`` does the same work on a private
  loop thread, which ``cProfile`` (per thread) would not see.
* ``servers``: the same workload with ``cProfile`` running in the gateway and the executor
  processes, without touching server code: docwire starts its processes with this
  process' ``sys.path`` as ``PYTHONPATH``, so a temporary directory holding a
  ``sitecustomize.py`` put on ``sys.path`` is imported by each child at startup. That
  hook (active only when ``DOCWIRE_BENCH_PROFILE_DIR`` is set) installs SIGUSR1 (start
  profiling) and SIGUSR2 (stop, write ``<module>-<pid>.prof``) handlers and drops a marker
  file; only processes that dropped one are signalled. Only each process' main thread is
  profiled: grpc's event loop and docwire's code run there; the sync executor method runs
  on the executor's sync-method thread (``docwire.executor.sync_runner``; a no-op here).
* ``cpu``: CPU seconds each process spends (``/proc/<pid>/stat``, all threads) per
  100-document request and per sequential small request: docwire's client, gateway and
  executor against bare's client, relay and echo. On a 2-core machine with three busy
  processes, total CPU per request is what bounds throughput.
* ``costs``: the per-request Python steps of each process, timed alone on the same
  100-document (214 kB) DataRequest: the client's encode/parse/decode, the gateway's two
  ``DataRequest.FromString`` per hop and reply concatenation, the executor's parse,
  ``decode_docs``/``encode_docs``, the pass-through check (``reencodes_unchanged``: a no-op
  endpoint answers with the request's document bytes), ``docs_bytes`` copies,
  ``SerializeToString`` and the hop to the sync-method thread (``SyncRunner``) against
  ``asyncio.to_thread``.

A hook in docwire itself would be simpler than the sitecustomize trick: e.g. in
``docwire.runtime.lifecycle`` (which both server processes go through), when
``DOCWIRE_PROFILE=<dir>`` is set, enable ``cProfile.Profile`` after ``report_ready`` and
dump ``<dir>/<name>-<pid>.prof`` in ``wait_for_stop_signal`` before ``on_stop``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import os
import pstats
import resource
import signal
import sys
import tempfile
import textwrap
import time
import timeit
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio
import uvloop
from docarray import BaseDoc
from rich.console import Console
from rich.table import Column, Table

from docwire import AsyncClient, Client, Flow
from docwire.executor.sync_runner import SyncRunner
from docwire.orchestration.preloader import FORK_LAUNCHER_ENV
from docwire_client.inputs import RequestSpec, build_request
from docwire_contract.codec import decode_docs, encode_docs, reencodes_unchanged
from docwire_contract.doc_types import Document, doclist_of
from docwire_contract.methods import GatewayMethods
from docwire_contract.v1 import request_pb2

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import bare, workloads
else:
    import bare
    import workloads

PARTS = ("costs", "cpu", "client", "servers")
PROFILE_DIR_ENV = "DOCWIRE_BENCH_PROFILE_DIR"
SIGNAL_WAIT_S = 10.0
TOP_CUMULATIVE = 25
TOP_OWN = 15

console = Console(width=None if sys.stdout.isatty() else 150)

# Imported by docwire's server processes at startup (see the module docstring).
SITECUSTOMIZE = textwrap.dedent(
    '''
    """docwire bench: cProfile on SIGUSR1, dump on SIGUSR2 (only with DOCWIRE_BENCH_PROFILE_DIR set)."""
    import os

    _DIR = os.environ.get("DOCWIRE_BENCH_PROFILE_DIR")
    if _DIR:
        import cProfile
        import signal
        import sys
        from pathlib import Path

        _profiler = cProfile.Profile()

        def _start(signum, frame):
            _profiler.enable()

        def _stop(signum, frame):
            _profiler.disable()
            main = sys.modules.get("__main__")
            spec = getattr(main, "__spec__", None)
            name = spec.name if spec is not None else Path(sys.argv[0]).stem
            target = Path(_DIR) / f"{name}-{os.getpid()}.prof"
            _profiler.dump_stats(str(target) + ".tmp")
            os.replace(str(target) + ".tmp", target)

        signal.signal(signal.SIGUSR1, _start)
        signal.signal(signal.SIGUSR2, _stop)
        def _mark():
            (Path(_DIR) / f"hooked-{os.getpid()}").touch()

        _mark()
        os.register_at_fork(after_in_child=_mark)  # executor replicas are forked by docwire.runtime.preloaded
    '''
)


# ---------------------------------------------------------------------------- helpers


def _print_stats(title: str, stats: pstats.Stats) -> None:
    console.rule(title)
    stats.sort_stats(pstats.SortKey.CUMULATIVE).print_stats(TOP_CUMULATIVE)
    stats.sort_stats(pstats.SortKey.TIME).print_stats(TOP_OWN)


def _flow() -> Flow:
    return Flow(host="127.0.0.1").add(uses=workloads.NoOp)


def _post_docs(client: Client, docs: Sequence[workloads.EmbedDoc], **kwargs: Any) -> None:
    client.post(workloads.THROUGHPUT_ENDPOINT, docs, request_size=workloads.DOCS_PER_REQUEST, **kwargs)


async def _async_collect(port: int, docs: Sequence[workloads.EmbedDoc], profiler: cProfile.Profile | None) -> float:
    """What ``Client.post`` does (decode every reply into ``Document``, collect), on this thread."""
    async with AsyncClient(port=port) as client:
        collected = doclist_of(Document)
        # warm up the channel and the codec's plans
        async for batch in client.post(workloads.THROUGHPUT_ENDPOINT, docs[:1000], request_size=100):
            list.extend(collected, batch)  # as Client.post collects: no second validation
        collected = doclist_of(Document)
        start = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        async for batch in client.post(workloads.THROUGHPUT_ENDPOINT, docs, request_size=100):
            list.extend(collected, batch)
        if profiler is not None:
            profiler.disable()
        elapsed = time.perf_counter() - start
    if len(collected) != len(docs):
        raise RuntimeError(f"expected {len(docs)} documents back, got {len(collected)}")
    return elapsed


# ----------------------------------------------------------------------------- client


class GcTimer:
    """Wall time the cyclic garbage collector runs, through ``gc.callbacks`` (cProfile does not show it)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections += 1

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def profile_client(docs: Sequence[workloads.EmbedDoc]) -> None:
    """cProfile of the client process over the throughput workload, and the time spent in GC."""
    profiler = cProfile.Profile()
    with _flow() as flow:
        assert flow.port is not None
        with GcTimer() as collector:
            plain: float = uvloop.run(_async_collect(flow.port, docs, None))
        profiled: float = uvloop.run(_async_collect(flow.port, docs, profiler))
    n = len(docs)
    _print_stats(
        f"client process: {n:,} docs, AsyncClient.post + Document decode "
        f"({n / plain:,.0f} docs/s unprofiled, {n / profiled:,.0f} profiled)",
        pstats.Stats(profiler),
    )
    console.print(
        f"unprofiled run: {plain * 1e3:,.0f} ms, of which {collector.seconds * 1e3:,.0f} ms in "
        f"{collector.collections} garbage collections (warm-up included; not visible to cProfile)"
    )


# ---------------------------------------------------------------------------- servers


@contextlib.contextmanager
def _server_hook() -> Iterator[Path]:
    """A temporary sitecustomize on sys.path (so on the children's PYTHONPATH); yields the profile dir."""
    with tempfile.TemporaryDirectory(prefix="docwire-bench-") as tmp:
        hook, out = Path(tmp) / "hook", Path(tmp) / "out"
        hook.mkdir()
        out.mkdir()
        (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
        sys.path.insert(0, str(hook))
        os.environ[PROFILE_DIR_ENV] = str(out)
        # A new interpreter reads sitecustomize; a fork of this script (the launcher's fork) would not.
        os.environ[FORK_LAUNCHER_ENV] = "0"
        try:
            yield out
        finally:
            os.environ.pop(PROFILE_DIR_ENV, None)
            os.environ.pop(FORK_LAUNCHER_ENV, None)
            with contextlib.suppress(ValueError):
                sys.path.remove(str(hook))


def _wait_for(paths: Sequence[Path]) -> None:
    deadline = time.monotonic() + SIGNAL_WAIT_S
    while not all(p.exists() for p in paths):
        if time.monotonic() > deadline:
            missing = ", ".join(p.name for p in paths if not p.exists())
            raise RuntimeError(f"no profile from {missing} after {SIGNAL_WAIT_S:g}s")
        time.sleep(0.05)


def profile_servers(docs: Sequence[workloads.EmbedDoc], rounds: int = 3) -> None:
    """cProfile inside the gateway and the executor over ``rounds`` runs of the throughput workload."""
    with _server_hook() as out, _flow() as flow:
        assert flow.port is not None
        hooked = [pid for pid in flow.pids() if (out / f"hooked-{pid}").exists()]
        if len(hooked) != len(flow.pids()):
            raise RuntimeError("the profiling hook did not load in every server process; nothing signalled")
        with Client(port=flow.port) as client:
            _post_docs(client, docs[:2000], return_responses=True)
            for pid in hooked:
                os.kill(pid, signal.SIGUSR1)
            time.sleep(0.2)  # let each loop wake up and run its handler
            start = time.perf_counter()
            for _ in range(rounds):
                _post_docs(client, docs, return_responses=True)
            elapsed = time.perf_counter() - start
            for pid in hooked:
                os.kill(pid, signal.SIGUSR2)
            _wait_for([out / f"{name}-{pid}.prof" for pid in hooked for name in _module_names(out, pid)])
        # Read before the temporary directory goes.
        profiles = {prof.stem: pstats.Stats(str(prof)) for prof in sorted(out.glob("*.prof"))}
    n = rounds * len(docs)
    for stem, stats in profiles.items():
        _print_stats(
            f"{stem}: {n:,} docs in {elapsed:.1f} s ({n / elapsed:,.0f} docs/s profiled, return_responses=True)", stats
        )


def _module_names(out: Path, pid: int) -> list[str]:
    """The profile file stem a pid will write: wait until any file for it exists."""
    deadline = time.monotonic() + SIGNAL_WAIT_S
    while time.monotonic() < deadline:
        found = [p.name.removesuffix(f"-{pid}.prof") for p in out.glob(f"*-{pid}.prof")]
        if found:
            return found
        time.sleep(0.05)
    raise RuntimeError(f"process {pid} wrote no profile after {SIGNAL_WAIT_S:g}s")


# -------------------------------------------------------------------------------- cpu


def _cpu_table(first: str, title: str | None) -> Table:
    return Table(
        first,
        Column("wall µs/request", justify="right"),
        "CPU µs/request by process",
        Column("CPU µs total", justify="right"),
        Column("cores busy", justify="right"),
        title=title,
    )


def _measure_cpu(pids: dict[str, int], table: Table, label: str, run: Callable[[], object], units: int) -> None:
    """Runs ``run`` and adds a row: wall and CPU per unit, by process."""
    before = workloads.CpuSnapshot.take(pids)
    run()
    wall, cpu = workloads.CpuSnapshot.take(pids).since(before)
    _cpu_rows(table, label, wall, cpu, units)


def _cpu_rows(table: Table, label: str, wall: float, cpu: dict[str, float], units: int) -> None:
    total = sum(cpu.values())
    parts = "  ".join(f"{name} {seconds / units * 1e6:,.0f}" for name, seconds in cpu.items())
    table.add_row(label, f"{wall / units * 1e6:,.0f}", parts, f"{total / units * 1e6:,.0f}", f"{total / wall:.2f}")


async def _raw_stream(port: int, payload: bytes, n_requests: int) -> None:
    """``n_requests`` copies of serialized DataRequest bytes over one Stream call: no client codec."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=bare.OPTIONS) as channel:
        call: grpc.aio.StreamStreamCall[bytes, bytes] = channel.stream_stream(GatewayMethods.STREAM)()

        async def write_all() -> None:
            for _ in range(n_requests):
                await call.write(payload)
            await call.done_writing()

        writer = asyncio.create_task(write_all())
        try:
            for _ in range(n_requests):
                if not isinstance(await call.read(), bytes):
                    raise RuntimeError("the gateway stream ended early")
            await writer
        finally:
            writer.cancel()


async def _raw_sequential(port: int, payload: bytes, n: int, unary: bool) -> None:
    """``n`` one-at-a-time requests as bytes through the gateway's Post (unary) or one Stream call each."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=bare.OPTIONS) as channel:
        post: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(GatewayMethods.POST)
        stream: grpc.aio.StreamStreamMultiCallable[bytes, bytes] = channel.stream_stream(GatewayMethods.STREAM)
        for _ in range(n):
            if unary:
                await post(payload)
                continue
            call = stream()
            await call.write(payload)
            await call.done_writing()
            replies = [reply async for reply in call]
            if len(replies) != 1:
                raise RuntimeError(f"expected one reply, got {len(replies)}")


def cpu_breakdown(docs: Sequence[workloads.EmbedDoc], sequential: int = 1000) -> None:
    """CPU per request in each process, docwire against bare, for both workloads.

    The ``raw client`` rows send docwire's serialized requests with a bare grpc.aio client
    (no encoding, no decoding, no Response objects): they split client from server costs.
    """
    n_requests = len(docs) // workloads.DOCS_PER_REQUEST
    batch = workloads.batch_request(docs[: workloads.DOCS_PER_REQUEST])
    small = workloads.small_request()
    stream = _cpu_table(
        "stream, 100 docs/request",
        f"CPU per request ({n_requests} x 100-doc requests; {sequential} sequential small requests)",
    )
    seq = _cpu_table("sequential, 1 TextDoc", None)
    with _flow() as flow:
        port = flow.port
        assert port is not None
        executor_pid, gateway_pid = flow.pids()
        pids = {"client": os.getpid(), "gateway": gateway_pid, "executor": executor_pid}

        def measure(table: Table, label: str, run: Callable[[], object], units: int) -> None:
            _measure_cpu(pids, table, label, run, units)

        # The sync Client is closed before the raw client's loop runs: grpc.aio logs spurious
        # errors when two loops are alive in one process and one closes (grpc/grpc#25364).
        with Client(port=port) as client:
            doc = workloads.small_doc()

            def client_sequential() -> None:
                for _ in range(sequential):
                    client.post(workloads.TEXT_ENDPOINT, doc)

            _post_docs(client, docs[:2000])
            measure(stream, "docwire Client.post", lambda: _post_docs(client, docs), n_requests)
            measure(
                stream,
                "docwire return_responses=True",
                lambda: _post_docs(client, docs, return_responses=True),
                n_requests,
            )
            for _ in range(100):
                client.post(workloads.TEXT_ENDPOINT, doc)
            measure(seq, "docwire Client", client_sequential, sequential)
        uvloop.run(_raw_stream(port, batch, 20))
        measure(
            stream, "raw client -> docwire Stream", lambda: uvloop.run(_raw_stream(port, batch, n_requests)), n_requests
        )
        measure(
            seq,
            "raw client -> docwire Post (unary)",
            lambda: uvloop.run(_raw_sequential(port, small, sequential, True)),
            sequential,
        )
        measure(
            seq,
            "raw client -> docwire Stream, 1/call",
            lambda: uvloop.run(_raw_sequential(port, small, sequential, False)),
            sequential,
        )

    with bare.bare_system() as target:
        children = workloads.bare_children()
        bare_pids = {"client": os.getpid(), "relay": children["relay"], "echo": children["echo"]}
        uvloop.run(bare._throughput(target, batch, 20, 0))
        _measure_cpu(
            bare_pids, stream, "bare", lambda: uvloop.run(bare._throughput(target, batch, n_requests, 0)), n_requests
        )
        uvloop.run(bare._latency(target, small, 100, 0))
        _measure_cpu(
            bare_pids, seq, "bare", lambda: uvloop.run(bare._latency(target, small, sequential, 0)), sequential
        )
    console.print(stream)
    console.print(seq)
    console.print(
        "[dim]raw-client and bare rows include opening one channel; cores busy = total CPU / wall; "
        "/proc CPU times tick every 10 ms; other load on the machine inflates every figure[/]"
    )


# ------------------------------------------------------------------------------ costs


def _per_call_us(fn: Callable[[], object], number: int = 20, repeat: int = 7) -> tuple[float, float]:
    """The best of ``repeat`` timings (the least disturbed by other load) per call, after a warm-up,
    and the minor page faults per call (allocations the C library had given back to the OS)."""
    timer = timeit.Timer(fn)
    timer.timeit(number=number)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    best = min(timer.repeat(repeat=repeat, number=number)) / number * 1e6
    return best, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / (repeat * number)


def _nothing() -> None:
    return None


async def _to_thread_us(n: int = 2000) -> float:
    for _ in range(100):
        await asyncio.to_thread(_nothing)
    start = time.perf_counter()
    for _ in range(n):
        await asyncio.to_thread(_nothing)
    return (time.perf_counter() - start) / n * 1e6


async def _sync_runner_us(n: int = 2000) -> float:
    runner = SyncRunner("bench")
    try:
        for _ in range(100):
            await runner.run(_nothing)
        start = time.perf_counter()
        for _ in range(n):
            await runner.run(_nothing)
        return (time.perf_counter() - start) / n * 1e6
    finally:
        runner.shutdown()


def step_costs(docs: Sequence[workloads.EmbedDoc]) -> None:
    """Each Python step of a 100-document request, timed alone, per process."""
    batch: list[BaseDoc] = list(docs[: workloads.DOCS_PER_REQUEST])
    spec = RequestSpec(workloads.THROUGHPUT_ENDPOINT)
    raw_request = build_request(spec, batch)[1]
    # The executor's reply (its route added), and the gateway's reply: its route in front.
    executor_reply_msg = request_pb2.DataRequest.FromString(raw_request)
    executor_reply_msg.routes.add(executor="executor0").start_time.GetCurrentTime()
    executor_reply = executor_reply_msg.SerializeToString()
    gateway_prefix = request_pb2.DataRequest()
    gateway_prefix.routes.add(executor="gateway").start_time.GetCurrentTime()
    client_reply = gateway_prefix.SerializeToString() + executor_reply
    docs_bytes = executor_reply_msg.data.docs_bytes
    parsed = request_pb2.DataRequest.FromString(raw_request)
    as_embed = decode_docs(docs_bytes, workloads.EmbedDoc)
    as_document = decode_docs(docs_bytes, Document)
    embed = workloads.EmbedDoc

    def set_docs_bytes() -> None:
        # a fresh message each time, as the executor has: setting one repeatedly grows its arena
        request_pb2.DataRequest().data.docs_bytes = docs_bytes

    def collect() -> None:
        list.extend(doclist_of(Document), as_document)

    steps: list[tuple[str, str, Callable[[], object]]] = [
        ("client", "build_request (encode_docs + DataRequest serialize)", lambda: build_request(spec, batch)),
        ("client", "  of which encode_docs(100 EmbedDoc)", lambda: encode_docs(batch)),
        ("client", "DataRequest.FromString(reply) (response_deserializer)", lambda: parsed.FromString(client_reply)),
        ("client", "Response.docs: decode_docs -> Document (default)", lambda: decode_docs(docs_bytes, Document)),
        (
            "client",
            "decode_docs -> EmbedDoc (return_type=EmbedDoc)",
            lambda: decode_docs(docs_bytes, workloads.EmbedDoc),
        ),
        ("client", "Client.post collect: list.extend(DocList, 100 docs)", collect),
        ("gateway", "DataRequest.FromString(request)", lambda: parsed.FromString(raw_request)),
        ("gateway", "DataRequest.FromString(executor reply)", lambda: parsed.FromString(executor_reply)),
        (
            "gateway",
            "route prefix SerializeToString + concat",
            lambda: gateway_prefix.SerializeToString() + executor_reply,
        ),
        ("executor", "DataRequest.FromString(request)", lambda: parsed.FromString(raw_request)),
        ("executor", "request.data.docs_bytes (read)", lambda: parsed.data.docs_bytes),
        ("executor", "reencodes_unchanged (pass-through check)", lambda: reencodes_unchanged(docs_bytes, embed)),
        ("executor", "decode_docs -> EmbedDoc (when it reads docs)", lambda: decode_docs(docs_bytes, embed)),
        ("executor", "encode_docs(100 EmbedDoc)", lambda: encode_docs(as_embed)),
        ("executor", "DataRequest().data.docs_bytes = encoded", set_docs_bytes),
        ("executor", "DataRequest.SerializeToString()", parsed.SerializeToString),
        ("reference", f"bytes copy of {len(raw_request) / 1e3:.0f} kB", lambda: bytes(bytearray(raw_request))),
    ]
    table = Table(
        "process",
        "step",
        Column("µs / request", justify="right"),
        Column("µs / doc", justify="right"),
        Column("page faults / call", justify="right"),
        title=f"Python steps per 100-doc request ({len(raw_request) / 1e3:.0f} kB DataRequest), timed alone",
    )
    previous = ""
    for side, label, fn in steps:
        us, faults = _per_call_us(fn)
        table.add_row(side if side != previous else "", label, f"{us:,.1f}", f"{us / 100:,.2f}", f"{faults:,.0f}")
        previous = side
    hop: float = uvloop.run(_sync_runner_us())
    table.add_row("executor", "SyncRunner hop (sync endpoint), uvloop", f"{hop:,.1f}", f"{hop / 100:,.2f}", "")
    hop = uvloop.run(_to_thread_us())
    table.add_row("reference", "asyncio.to_thread hop, uvloop", f"{hop:,.1f}", f"{hop / 100:,.2f}", "")
    console.print(table)
    console.print(
        f"[dim]decoded as {type(as_document[0]).__name__} x {len(as_document)}. Page faults: each 214 kB buffer "
        "glibc hands back to the OS is faulted in again by the next allocation (~2 µs a page here); "
        "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=134217728 "
        "keeps them in the heap.[/]"
    )


# ------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts to run, of {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    with console.status("building 20,000 documents"):
        docs = workloads.embed_docs()
    runners: dict[str, Callable[[Sequence[workloads.EmbedDoc]], None]] = {
        "costs": step_costs,
        "cpu": cpu_breakdown,
        "client": profile_client,
        "servers": profile_servers,
    }
    for part in parts:
        console.rule(f"[bold]{part}")
        runners[part](docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
