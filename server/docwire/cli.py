"""The ``docwire`` command: ``docwire serve flow.yml`` and ``docwire ping grpc://host:port``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from rich.console import Console

from docwire.orchestration.flow import Flow
from docwire.orchestration.process import StartupError
from docwire_client import Client, DocwireError

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    flow = Flow.load_config(args.config)
    if args.port is not None:
        flow = Flow.from_config(type(flow.config)(**{**_fields(flow.config), "port": args.port}), flow.executors)
    try:
        with flow:
            flow.block()
    except StartupError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        return 1
    return 0


def _fields(config: object) -> dict[str, object]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}  # type: ignore[attr-defined]


def _ping(args: argparse.Namespace) -> int:
    console = Console()
    with Client(host=args.uri) as client:
        for attempt in range(1, args.attempts + 1):
            started = time.perf_counter()
            try:
                status = client.dry_run(timeout=args.timeout)
            except DocwireError as exc:
                console.print(f"[red]ping {attempt}: {exc}[/red]")
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if status.code == 0:
                console.print(f"ping {attempt}: {client.target.uri} is ready ({elapsed:.1f} ms)")
                return 0
            console.print(f"[red]ping {attempt}: {client.target.uri} is not ready: {status.description}[/red]")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="docwire", description="Serve and check docwire Flows.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a Flow described by a YAML file until Ctrl-C")
    serve.add_argument("config", help="the Flow's YAML file")
    serve.add_argument("--port", type=int, default=None, help="override the gateway's port")
    serve.set_defaults(run=_serve)
    ping = commands.add_parser("ping", help="check that a Flow answers (a dry run through every executor)")
    ping.add_argument("uri", help="the gateway, for example grpc://127.0.0.1:12345")
    ping.add_argument("--timeout", type=float, default=3.0, help="seconds per attempt")
    ping.add_argument("--attempts", type=int, default=1, help="how many times to try")
    ping.set_defaults(run=_ping)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
