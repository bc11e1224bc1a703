"""``make bench``: docwire against the bare grpcio relay (``bench/bare.py``), same machine, same run.

Workloads (each repeated ``--reps`` times, the median reported, every repetition listed):

1. Sequential round trip of one small document (``TextDoc(text="hello")``), p50 and p99:
   docwire is a ``Flow(host="127.0.0.1").add(uses=NoOp)`` (gateway + one executor: two
   processes, the relay's hop count) called one request at a time with the sync ``Client``
   and with the ``AsyncClient``; bare sends the exact DataRequest bytes docwire's client
   sends for that document through ``bare.sequential_latency``. (NoOp serves it on
   ``/text``, typed ``DocList[TextDoc]``: a TextDoc does not fit the ``EmbedDoc`` endpoint.)
2. Throughput: 20,000 documents with a float32[512] embedding, 100 per request, streamed
   with ``Client.post`` (prefetch 100) through the same Flow; bare streams 200 copies of one
   serialized 100-document DataRequest through ``bare.stream_throughput``. docwire is also
   measured with ``return_responses=True`` (replies are not decoded into documents) and with
   ``return_type=DocList[EmbedDoc]`` (decoded into the small schema instead of the default
   ``Document``), to show what client-side decoding costs, and with an ``on_done`` callback
   that reads each reply's documents (decoded into ``Document``, then let go): the way seed
   000 streams large inputs, since accumulating every result costs memory and time. The
   same four run on 100,000 documents (bare: 1,000 copies); there the target applies to the
   streamed form, and the accumulating ``Client.post`` row (100,000 documents and 200 MB of
   tensors kept) is informational. The "vs piped relay" rows set the
   same docwire figures against a relay that passes a client stream to the echo over one
   stream (``bare.PIPED``), as docwire's gateway does from a stream's second request on.
   The "vs bare + codec" rows (informational) set the ``on_done`` row against a client written
   by hand on bare grpc.aio that encodes each request and decodes each reply with docwire's
   codec and does nothing else (``bench/bare_codec.py``), through either relay: what docwire's
   client adds over the work any client that moves documents must do.
   The "servers, bytes client" rows (informational) take every client out of the comparison:
   bare's own client (``bare._throughput``: one cached payload written, replies read as bytes)
   streams the same 100-document DataRequest through docwire's gateway (``GatewayService/Stream``)
   and executor, set against the same client through either relay: what docwire's two server
   processes cost against bare's two.

The stream rows also show the CPU time every process spent per 100-document request
(``/proc/<pid>/stat``, all threads): docwire's client + gateway + executor against bare's
client + relay + echo. Wall-clock docs/s move with whatever else runs on the machine;
CPU per request much less, and on 2 cores it is what bounds the throughput.

Targets (issue 16; informational: the exit code is 0 unless something crashes): every
stream row, the "vs piped relay" ones too, docwire/bare >= 0.8 (the accumulating 100,000-document
row is informational), and sequential p50 docwire/bare <= 1.3.

Each repetition starts a new Flow, as bare starts a new relay and echo: a process keeps a speed
of its own for its life, so a single Flow would weigh one draw against bare's several.

    .venv/bin/python bench/run.py              # the comparison, about 60 s on 2 cores
    .venv/bin/python bench/run.py --reps 1     # quicker, noisier
    .venv/bin/python bench/run.py --quick      # one repetition, 20,000-document rows only, ~15 s
    .venv/bin/python bench/run.py --profile    # bench/profile_hop.py: where the time goes
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import uvloop
from docarray import DocList
from rich.console import Console
from rich.table import Column, Table

from docwire import AsyncClient, Client, Flow
from docwire_client import Response
from docwire_contract.methods import GatewayMethods

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import bare, bare_codec, client_memory, profile_hop, workloads
else:
    import bare
    import bare_codec
    import client_memory
    import profile_hop
    import workloads

# Issue 16's targets: every stream row (the piped relay's too) at 0.8 of bare, sequential p50 within 1.3x.
P50_TARGET = 1.3  # docwire p50 / bare p50 at most
THROUGHPUT_TARGET = 0.8  # docwire docs/s / bare docs/s at least
THROUGHPUT_WARMUP_DOCS = 2_000

# Wide enough for the table when piped (rich assumes 80 columns then).
console = Console(width=None if sys.stdout.isatty() else 150)


@dataclass(slots=True)
class Figure:
    """One figure over the repetitions of a workload."""

    unit: str
    higher_is_better: bool
    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


@dataclass(slots=True)
class CpuFigure:
    """CPU µs per request of each process, over the repetitions of a workload."""

    runs: list[dict[str, float]] = field(default_factory=list)

    def add(self, cpu: dict[str, float], requests: int) -> None:
        self.runs.append({label: seconds / requests * 1e6 for label, seconds in cpu.items()})

    def render(self) -> str:
        """The median total, and the median of each process, ``"1,234 (500+400+334)"``."""
        if not self.runs:
            return ""
        parts = [statistics.median(run[label] for run in self.runs) for label in self.runs[0]]
        total = statistics.median(sum(run.values()) for run in self.runs)
        return f"{total:,.0f} ({'+'.join(f'{part:.0f}' for part in parts)})"


@dataclass(slots=True)
class Row:
    """A table row: one docwire figure against its bare counterpart."""

    workload: str
    figure: str
    docwire: Figure
    bare: Figure
    target: float | None = None  # the ratio docwire/bare must reach (None: informational)
    docwire_cpu: CpuFigure = field(default_factory=CpuFigure)
    bare_cpu: CpuFigure | None = None


# --------------------------------------------------------------------- docwire side


def sync_latency(client: Client, n: int, warmup: int) -> dict[str, float]:
    """One small document at a time through the sync Client."""
    doc = workloads.small_doc()
    samples: list[float] = []
    for i in range(warmup + n):
        start = time.perf_counter()
        reply = client.post(workloads.TEXT_ENDPOINT, doc)
        elapsed = time.perf_counter() - start
        if len(reply) != 1:
            raise RuntimeError(f"expected one document back, got {len(reply)}")
        if i >= warmup:
            samples.append(elapsed)
    return workloads.quantiles_ms(samples)


async def _async_latency(port: int, n: int, warmup: int) -> list[float]:
    doc = workloads.small_doc()
    samples: list[float] = []
    async with AsyncClient(port=port) as client:
        for i in range(warmup + n):
            received = 0
            start = time.perf_counter()
            async for docs in client.post(workloads.TEXT_ENDPOINT, doc):
                received += len(docs)
            elapsed = time.perf_counter() - start
            if received != 1:
                raise RuntimeError(f"expected one document back, got {received}")
            if i >= warmup:
                samples.append(elapsed)
    return samples


def async_latency(port: int, n: int, warmup: int) -> dict[str, float]:
    """One small document at a time through the AsyncClient, on a uvloop loop in this thread."""
    samples: list[float] = uvloop.run(_async_latency(port, n, warmup))
    return workloads.quantiles_ms(samples)


def throughput(
    client: Client,
    docs: Sequence[workloads.EmbedDoc],
    pids: dict[str, int] | None = None,
    cpu: CpuFigure | None = None,
    *,
    streamed: bool = False,
    **post_kwargs: Any,
) -> float:
    """Documents per second for one ``Client.post`` of ``docs``, 100 per request.

    With ``streamed``, an ``on_done`` callback reads each reply's documents (decoding them)
    and keeps only their count. With ``pids`` and ``cpu``, adds the CPU per request each of
    those processes spent to ``cpu``.
    """
    decoded = 0

    def count_decoded(response: Response[Any]) -> None:
        nonlocal decoded
        decoded += len(response.docs)

    if streamed:
        post_kwargs["on_done"] = count_decoded
    before = workloads.CpuSnapshot.take(pids or {})
    reply = client.post(workloads.THROUGHPUT_ENDPOINT, docs, request_size=workloads.DOCS_PER_REQUEST, **post_kwargs)
    elapsed, spent = workloads.CpuSnapshot.take(pids or {}).since(before)
    expected = len(docs) if not post_kwargs.get("return_responses") else -(-len(docs) // workloads.DOCS_PER_REQUEST)
    got = decoded if streamed else len(reply)
    if got != expected:
        raise RuntimeError(f"expected {expected} items back, got {got}")
    if cpu is not None:
        cpu.add(spent, len(docs) // workloads.DOCS_PER_REQUEST)
    return len(docs) / elapsed


# -------------------------------------------------------------------------- the run


def _ms() -> Figure:
    return Figure("ms", higher_is_better=False)


def _per_s() -> Figure:
    return Figure("docs/s", higher_is_better=True)


def _bare_stream(
    target: str, payload: bytes, n_requests: int, pids: dict[str, int], cpu: CpuFigure, method: str = bare.STREAM
) -> float:
    """Docs/s of ``bare._throughput`` on a running relay, or docwire gateway (warmed up by the caller); its CPU per
    request to ``cpu``."""
    before = workloads.CpuSnapshot.take(pids)
    elapsed: float = uvloop.run(bare._throughput(target, payload, n_requests, 0, method))
    _, spent = workloads.CpuSnapshot.take(pids).since(before)
    cpu.add(spent, n_requests)
    return n_requests * workloads.DOCS_PER_REQUEST / elapsed


def _bare_codec_stream(
    target: str, docs: Sequence[workloads.EmbedDoc], pids: dict[str, int], cpu: CpuFigure, method: str
) -> float:
    """Docs/s of ``bare_codec.stream_documents`` on a running relay; its CPU per request to ``cpu``."""
    before = workloads.CpuSnapshot.take(pids)
    elapsed = uvloop.run(bare_codec.stream_documents(target, docs, method))
    _, spent = workloads.CpuSnapshot.take(pids).since(before)
    cpu.add(spent, len(docs) // workloads.DOCS_PER_REQUEST)
    return len(docs) / elapsed


def measure(reps: int, n: int, warmup: int, *, full: bool = True) -> tuple[list[Row], dict[str, float] | None]:
    """Runs every workload ``reps`` times (docwire on a new Flow, then bare, each time); returns the rows and the
    client's memory figures for a 1,000,000-document generator.

    Without ``full``, leaves out the 100,000-document streams and the memory figures (None).
    """
    large_rows = full
    bare_p50, bare_p99, bare_thr, bare_large = _ms(), _ms(), _per_s(), _per_s()
    bare_thr_cpu, bare_large_cpu = CpuFigure(), CpuFigure()
    bare_piped, bare_piped_cpu = _per_s(), CpuFigure()
    rows = [
        Row("sequential", "p50, Client", _ms(), bare_p50, P50_TARGET),
        Row("sequential", "p99, Client", _ms(), bare_p99),
        Row("sequential", "p50, AsyncClient", _ms(), bare_p50, P50_TARGET),
        Row("sequential", "p99, AsyncClient", _ms(), bare_p99),
        Row("stream", "Client.post", _per_s(), bare_thr, THROUGHPUT_TARGET, bare_cpu=bare_thr_cpu),
        Row("stream", "on_done, docs decoded", _per_s(), bare_thr, THROUGHPUT_TARGET, bare_cpu=bare_thr_cpu),
        Row("stream", "return_responses=True", _per_s(), bare_thr, THROUGHPUT_TARGET, bare_cpu=bare_thr_cpu),
        Row("stream", "return_type=EmbedDoc", _per_s(), bare_thr, THROUGHPUT_TARGET, bare_cpu=bare_thr_cpu),
        Row("stream 100k", "on_done, docs decoded", _per_s(), bare_large, THROUGHPUT_TARGET, bare_cpu=bare_large_cpu),
        Row("stream 100k", "Client.post, all kept", _per_s(), bare_large, None, bare_cpu=bare_large_cpu),
        Row("stream 100k", "return_responses=True", _per_s(), bare_large, THROUGHPUT_TARGET, bare_cpu=bare_large_cpu),
    ]
    sync_p50, sync_p99, async_p50, async_p99 = rows[:4]
    thr_docs, thr_streamed, thr_raw, thr_typed, large_streamed, large_docs, large_raw = rows[4:]
    # Informational: docwire's on_done row against a client written by hand on bare grpc.aio that
    # encodes and decodes with docwire's codec (bench/bare_codec.py), through either relay.
    bare_codec_thr, bare_codec_piped = _per_s(), _per_s()
    bare_codec_cpu, bare_codec_piped_cpu = CpuFigure(), CpuFigure()
    codec_rows = [
        Row(
            "vs bare + codec",
            thr_streamed.figure,
            thr_streamed.docwire,
            bare_codec_thr,
            None,
            thr_streamed.docwire_cpu,
            bare_codec_cpu,
        ),
        Row(
            "vs piped + codec",
            thr_streamed.figure,
            thr_streamed.docwire,
            bare_codec_piped,
            None,
            thr_streamed.docwire_cpu,
            bare_codec_piped_cpu,
        ),
    ]
    # The same docwire runs against a relay that streams to the echo too (bare.PIPED).
    for row in (thr_docs, thr_raw):
        rows.append(
            Row(
                "vs piped relay",
                row.figure,
                row.docwire,
                bare_piped,
                THROUGHPUT_TARGET,
                row.docwire_cpu,
                bare_piped_cpu,
            )
        )
    rows.extend(codec_rows)
    # Informational: bare's bytes client through docwire's gateway and executor (no client codec).
    servers = _per_s()
    servers_cpu = CpuFigure()
    rows.append(Row("servers, bytes client", "Stream", servers, bare_thr, None, servers_cpu, bare_thr_cpu))
    rows.append(Row("servers, bytes client", "vs piped relay", servers, bare_piped, None, servers_cpu, bare_piped_cpu))

    with console.status(f"building {workloads.N_DOCS_LARGE if large_rows else workloads.N_DOCS:,} documents"):
        large = workloads.embed_docs(workloads.N_DOCS_LARGE if large_rows else workloads.N_DOCS)
        docs = large[: workloads.N_DOCS]
        seq_payload = workloads.small_request()
        batch_payload = workloads.batch_request(docs[: workloads.DOCS_PER_REQUEST])

    def docwire_steps() -> None:
        # A new Flow each repetition, as bare starts a new relay and echo each time: a process keeps a
        # speed of its own for its life (Flows alike in all else differ by up to 20% of CPU per request),
        # so one Flow for the whole run would set one draw against bare's three.
        with Flow(host="127.0.0.1").add(uses=workloads.NoOp) as flow:
            port = flow.port
            assert port is not None
            executor_pid, gateway_pid = flow.pids()
            pids = {"client": os.getpid(), "gateway": gateway_pid, "executor": executor_pid}

            def stream(client: Client, row: Row, batch: Sequence[workloads.EmbedDoc], **post_kwargs: Any) -> None:
                row.docwire.runs.append(throughput(client, batch, pids, row.docwire_cpu, **post_kwargs))

            # The sync Client is closed before the AsyncClient's loop runs: grpc.aio shares one poller
            # between loops and logs spurious errors when two are alive and one closes (grpc/grpc#25364).
            with Client(port=port) as client:
                throughput(client, docs[:THROUGHPUT_WARMUP_DOCS])
                _add(sync_latency(client, n, warmup), sync_p50.docwire, sync_p99.docwire)
                stream(client, thr_docs, docs)
                stream(client, thr_streamed, docs, streamed=True)
                stream(client, thr_raw, docs, return_responses=True)
                stream(client, thr_typed, docs, return_type=DocList[workloads.EmbedDoc])
                if large_rows:
                    stream(client, large_streamed, large, streamed=True)
                    stream(client, large_docs, large)
                    stream(client, large_raw, large, return_responses=True)
            # Bare's client on its own loop, as the AsyncClient below: the sync Client is closed by now.
            target = f"127.0.0.1:{port}"
            uvloop.run(bare._throughput(target, batch_payload, 20, 0, GatewayMethods.STREAM))  # warm-up
            requests = workloads.N_DOCS // workloads.DOCS_PER_REQUEST
            servers.runs.append(_bare_stream(target, batch_payload, requests, pids, servers_cpu, GatewayMethods.STREAM))
            _add(async_latency(port, n, warmup), async_p50.docwire, async_p99.docwire)

    def bare_sequential() -> None:
        _add(bare.sequential_latency(n, warmup, seq_payload), bare_p50, bare_p99)

    def bare_stream() -> None:
        with bare.bare_system() as target:
            children = workloads.bare_children()
            bare_pids = {"client": os.getpid(), "relay": children["relay"], "echo": children["echo"]}
            uvloop.run(bare._throughput(target, batch_payload, 20, 0))  # warm-up
            requests = workloads.N_DOCS // workloads.DOCS_PER_REQUEST
            bare_thr.runs.append(_bare_stream(target, batch_payload, requests, bare_pids, bare_thr_cpu))
            uvloop.run(bare._throughput(target, batch_payload, 20, 0, bare.PIPED))  # warm-up
            piped = _bare_stream(target, batch_payload, requests, bare_pids, bare_piped_cpu, bare.PIPED)
            bare_piped.runs.append(piped)
            codec = _bare_codec_stream(target, docs, bare_pids, bare_codec_cpu, bare.STREAM)
            bare_codec_thr.runs.append(codec)
            codec = _bare_codec_stream(target, docs, bare_pids, bare_codec_piped_cpu, bare.PIPED)
            bare_codec_piped.runs.append(codec)
            if large_rows:
                requests = workloads.N_DOCS_LARGE // workloads.DOCS_PER_REQUEST
                bare_large.runs.append(_bare_stream(target, batch_payload, requests, bare_pids, bare_large_cpu))

    steps: list[tuple[str, Callable[[], None]]] = [
        ("docwire: a new Flow; Client sequential and streams, AsyncClient sequential", docwire_steps),
        ("bare sequential", bare_sequential),
        ("bare stream", bare_stream),
    ]
    for rep in range(1, reps + 1):
        for label, step in steps:
            with console.status(f"repetition {rep}/{reps}: {label}"):
                step()
    memory = None
    if full:
        with (
            console.status(f"client memory: {client_memory.N_DOCS:,} documents from a generator"),
            Flow(host="127.0.0.1").add(uses=workloads.NoOp) as flow,
        ):
            assert flow.port is not None
            memory = client_memory.measure(flow.port)
    return [row for row in rows if row.docwire.runs], memory


def _add(result: dict[str, float], p50: Figure, p99: Figure) -> None:
    p50.runs.append(result["p50_ms"])
    p99.runs.append(result["p99_ms"])


# ------------------------------------------------------------------------- reporting


def _fmt(value: float, unit: str) -> str:
    return f"{value:,.0f}" if unit == "docs/s" else f"{value:.3f}"


def _short(value: float, unit: str) -> str:
    return f"{value / 1e3:.1f}k" if unit == "docs/s" else f"{value:.2f}"


def _verdict(row: Row, ratio: float) -> str:
    if row.target is None:
        return ""
    if row.docwire.higher_is_better:
        ok, rule = ratio >= row.target, f">= {row.target:g}"
    else:
        ok, rule = ratio <= row.target, f"<= {row.target:g}"
    return f"[green]PASS[/] ({rule})" if ok else f"[red]MISS[/] ({rule})"


def report(rows: Sequence[Row], reps: int, n: int, elapsed: float) -> None:
    """Prints the comparison table."""
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("grpcio", "protobuf", "docarray"))
    small, batch = len(workloads.small_request()), len(workloads.batch_request(workloads.embed_docs(100)))
    requests = workloads.N_DOCS // workloads.DOCS_PER_REQUEST
    console.print(
        f"[bold]sequential[/]: 1 TextDoc per request ({small} B DataRequest), {n} requests one at a time; "
        "gateway + 1 no-op executor vs relay + echo.\n"
        f"[bold]stream[/]: {workloads.N_DOCS:,} docs x float32[512], {workloads.DOCS_PER_REQUEST}/request "
        f"({batch / 1e3:.0f} kB DataRequest), {requests} requests over one bidi stream, prefetch 100. "
        "[bold]on_done[/]: a callback reads each reply's documents (decoded), nothing accumulated; "
        "[bold]Client.post[/]: every document decoded and kept in one DocList (at 100k, 200 MB of tensors and "
        "500,000 tracked objects: informational, as seed 000 advises callbacks for large inputs)."
    )
    table = Table(
        "workload",
        "figure",
        Column("docwire", justify="right"),
        Column("bare", justify="right"),
        Column("docwire/bare", justify="right"),
        "target",
        Column("CPU µs/req docwire", justify="right"),
        Column("CPU µs/req bare", justify="right"),
        Column("runs: docwire | bare", style="dim"),
        title=f"docwire vs bare grpcio relay, median of {reps}",
        caption=(
            f"{len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}, {versions}; "
            f"{elapsed:.0f} s. Targets are informational. CPU µs per 100-doc request, all threads: "
            "total (client+gateway+executor | client+relay+echo)."
        ),
    )
    previous = ""
    for row in rows:
        ratio = row.docwire.median / row.bare.median
        unit = row.docwire.unit
        runs = " ".join(_short(v, unit) for v in row.docwire.runs) + " | "
        runs += " ".join(_short(v, unit) for v in row.bare.runs)
        table.add_row(
            row.workload if row.workload != previous else "",
            row.figure,
            f"{_fmt(row.docwire.median, unit)} {unit}",
            f"{_fmt(row.bare.median, unit)} {unit}",
            f"{ratio:.2f}",
            _verdict(row, ratio),
            row.docwire_cpu.render(),
            row.bare_cpu.render() if row.bare_cpu is not None else "",
            runs,
        )
        previous = row.workload
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="repetitions per workload (median reported)")
    parser.add_argument("-n", type=int, default=2000, help="sequential requests per repetition")
    parser.add_argument("--warmup", type=int, default=200, help="sequential warm-up requests per repetition")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one repetition of 500 sequential requests; no 100,000-document rows, no memory figures",
    )
    parser.add_argument("--profile", action="store_true", help="run bench/profile_hop.py instead (see its --help)")
    args, rest = parser.parse_known_args(argv)
    if args.profile:
        code: int = profile_hop.main(rest)
        return code
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.reps < 1 or args.n < 100 or args.warmup < 0:
        parser.error("--reps must be >= 1, -n >= 100 and --warmup >= 0")
    if args.quick:
        args.reps, args.n, args.warmup = 1, min(args.n, 500), min(args.warmup, 50)
    start = time.perf_counter()
    rows, memory = measure(args.reps, args.n, args.warmup, full=not args.quick)
    report(rows, args.reps, args.n, time.perf_counter() - start)
    if memory is not None:
        client_memory.report(memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
