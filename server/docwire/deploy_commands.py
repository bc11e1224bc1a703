"""The ``docwire`` commands that run one process on its own and write deployment files.

``docwire executor serve --uses module.Class --port 8081`` serves one executor (for a Flow elsewhere
to use with ``external=True``, or in a container); ``docwire gateway serve --executor name=host:port``
serves one gateway in front of executors served so; ``docwire export kubernetes flow.yml dir`` and
``docwire export compose flow.yml out.yml`` write what runs those in a cluster or with docker compose.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop
from rich.console import Console
from rich.markup import escape

from docwire.gateway import app as gateway_app
from docwire.orchestration.commands import add_executor_arguments, add_gateway_arguments, gateway_spec, worker_spec
from docwire.orchestration.compose import compose_file, write_compose_file
from docwire.orchestration.config import load_flow_yaml
from docwire.orchestration.kubernetes import DEFAULT_IMAGE, kubernetes_manifests, write_kubernetes_manifests
from docwire.orchestration.placement import dial_address, reachable_host
from docwire.runtime import worker
from docwire.runtime.lifecycle import configure_logging

__all__ = ["add_deploy_commands"]


def _announce(ready_read: int, what: str, host: str) -> None:
    """Prints where the server listens once it reports its ports (on the pipe ``report_ready`` writes)."""
    with os.fdopen(ready_read) as pipe:
        line = pipe.readline()
    if line:
        ports: dict[str, int] = json.loads(line).get("ports") or {"grpc": json.loads(line)["port"]}
        where = ", ".join(f"{protocol} {dial_address(reachable_host(host), port)}" for protocol, port in ports.items())
        Console().print(f"{what} serving on {where}", highlight=False, soft_wrap=True)


def _run_with_announcement(serve: Callable[[int], Any], what: str, host: str) -> int:
    ready_read, ready_write = os.pipe()
    announcer = threading.Thread(target=_announce, args=(ready_read, what, host), daemon=True)
    announcer.start()
    try:
        uvloop.run(serve(ready_write))
    finally:
        announcer.join(timeout=1)
    return 0


def _serve_executor(args: argparse.Namespace) -> int:
    try:
        spec = worker_spec(args)
    except ValueError as exc:
        return _fail(exc)
    configure_logging(f"{spec.name}/rep-{spec.replica_id}")
    return _run_with_announcement(
        lambda fd: worker.serve(spec, fd), f"executor {spec.name!r} rep-{spec.replica_id}", spec.host
    )


def _serve_gateway(args: argparse.Namespace) -> int:
    try:
        spec = gateway_spec(args)
    except ValueError as exc:
        return _fail(exc)
    configure_logging("gateway")
    return _run_with_announcement(lambda fd: gateway_app.serve(spec, fd), "gateway", spec.host)


def _export(args: argparse.Namespace) -> int:
    try:
        flow, executors = load_flow_yaml(args.flow)
        base = Path(args.flow).resolve().parent
        if args.target == "kubernetes":
            manifests = kubernetes_manifests(flow, executors, namespace=args.namespace, image=args.image, base=base)
            written = write_kubernetes_manifests(manifests, args.output)
        else:
            written = [write_compose_file(compose_file(flow, executors, image=args.image, base=base), args.output)]
    except (OSError, ValueError) as exc:
        return _fail(exc)
    console = Console()
    for path in written:
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)
    return 0


def _fail(exc: Exception) -> int:
    Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return 2


def add_deploy_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``executor serve``, ``gateway serve`` and ``export`` to the ``docwire`` command."""
    executor = commands.add_parser("executor", help="serve one executor on its own (for an external=True executor)")
    executor_actions = executor.add_subparsers(dest="action", required=True)
    executor_serve = executor_actions.add_parser("serve", help="serve one executor replica until SIGTERM")
    add_executor_arguments(executor_serve)
    executor_serve.set_defaults(run=_serve_executor)

    gateway = commands.add_parser("gateway", help="serve one gateway on its own, in front of executors served so")
    gateway_actions = gateway.add_subparsers(dest="action", required=True)
    gateway_serve = gateway_actions.add_parser("serve", help="serve one gateway until SIGTERM")
    add_gateway_arguments(gateway_serve)
    gateway_serve.set_defaults(run=_serve_gateway)

    export = commands.add_parser("export", help="write Kubernetes manifests or a docker compose file for a Flow")
    export.add_argument("target", choices=["kubernetes", "compose"], help="what to write")
    export.add_argument("flow", help="the Flow's YAML file")
    export.add_argument("output", help="kubernetes: the directory to write into; compose: the file to write")
    export.add_argument("--namespace", default="default", help="kubernetes: the namespace of every object")
    export.add_argument("--image", default=DEFAULT_IMAGE, help=f"the containers' image ({DEFAULT_IMAGE})")
    export.set_defaults(run=_export)
