"""The command lines that run one executor or one gateway on its own, in both directions.

``docwire executor serve ...`` and ``docwire gateway serve ...`` serve one process each from
arguments (what a container runs). This module builds those arguments from a Flow's model (for
Kubernetes and docker compose manifests) and reads them back into the spec a process serves, so
the two cannot drift: ``tests/unit/test_commands.py`` checks the round trip.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from docwire.gateway.spec import GatewaySpec
from docwire.gateway.topology import NodeTopology, check_topology
from docwire.orchestration.config import PROTOCOLS, ExecutorConfig, FlowConfig
from docwire.orchestration.tls_arguments import (
    add_executor_tls_arguments,
    add_gateway_tls_arguments,
    executor_tls,
    gateway_executor_tls,
)
from docwire.orchestration.topology_arguments import TopologyArgument, executor_nodes, topology_argument
from docwire.runtime.spec import WorkerSpec
from docwire.runtime.status import ERROR_DETAILS
from docwire_contract.conventions import DEFAULT_MAX_MESSAGE_BYTES

__all__ = [
    "ExecutorTarget",
    "add_executor_arguments",
    "add_gateway_arguments",
    "executor_arguments",
    "gateway_arguments",
    "gateway_spec",
    "worker_spec",
]

#: Interfaces a standalone process binds by default: it is meant to be reached from other machines.
ALL_INTERFACES = "0.0.0.0"

_FLOW_DEFAULTS = FlowConfig()


@dataclass(frozen=True, slots=True)
class ExecutorTarget:
    """An executor as a standalone gateway is told about it: its name and the gRPC targets of its replicas."""

    name: str
    addresses: tuple[str, ...]

    def argument(self) -> str:
        """``name=target[,target...]``, as ``--executor`` takes it."""
        return f"{self.name}={','.join(self.addresses)}"

    @classmethod
    def parse(cls, text: str) -> ExecutorTarget:
        """Reads ``name=target[,target...]``.

        Raises:
            argparse.ArgumentTypeError: the text is not of that form.
        """
        name, sep, targets = text.partition("=")
        addresses = tuple(t for t in targets.split(",") if t)
        if not sep or not name or not addresses:
            raise argparse.ArgumentTypeError(f"{text!r} is not name=host:port[,host:port...]")
        return cls(name, addresses)


def uses_name(config: ExecutorConfig) -> str | None:
    """``uses`` as text a command line can carry: ``module.Class`` for a class.

    Raises:
        ValueError: the class is defined in ``__main__`` (a script), which another process cannot import.
    """
    uses = config.uses
    if uses is None or isinstance(uses, str):
        return uses
    if uses.__module__ == "__main__" or "<locals>" in uses.__qualname__:
        raise ValueError(
            f"executor {config.name!r}: uses={uses.__qualname__} is defined in a script or a function; "
            "a separate process needs an importable 'module.Class' (or the class in py_modules)"
        )
    return f"{uses.__module__}.{uses.__qualname__}"


def executor_arguments(
    config: ExecutorConfig,
    port: int,
    *,
    py_modules: Sequence[str] | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_connection_age: float | None = None,
    error_details: str = "full",
    shard_id: int = 0,
) -> list[str]:
    """The arguments of ``docwire`` that serve ``config`` alone on ``port`` (all interfaces).

    Args:
        config: the executor.
        port: the port it binds.
        py_modules: the module files as the serving machine sees them (default: ``config.py_modules``).
        max_message_bytes: the largest message it accepts.
        max_connection_age: seconds after which it closes a connection (clients reconnect and resolve again).
        error_details: what its exceptions tell callers (``"full"`` or ``"message"``).
        shard_id: which shard of the executor it serves (``runtime_args.shard_id``).
    """
    arguments = ["executor", "serve", "--name", config.name, "--host", ALL_INTERFACES, "--port", str(port)]
    uses = uses_name(config)
    if uses is not None:
        arguments += ["--uses", uses]
    if config.uses_with:
        arguments += ["--uses-with", json.dumps(dict(config.uses_with), sort_keys=True)]
    for module in config.py_modules if py_modules is None else py_modules:
        arguments += ["--py-module", module]
    if config.workspace is not None:
        arguments += ["--workspace", config.workspace]
    if config.max_concurrency is not None:
        arguments += ["--max-concurrency", str(config.max_concurrency)]
    if config.uses_dynamic_batching:
        arguments += ["--uses-dynamic-batching", json.dumps(dict(config.uses_dynamic_batching), sort_keys=True)]
    if max_message_bytes != DEFAULT_MAX_MESSAGE_BYTES:
        arguments += ["--max-message-bytes", str(max_message_bytes)]
    if max_connection_age is not None:
        arguments += ["--max-connection-age", f"{max_connection_age:g}"]
    if error_details != "full":
        arguments += ["--error-details", error_details]
    if shard_id:
        arguments += ["--shard-id", str(shard_id)]
    return arguments


def gateway_arguments(
    flow: FlowConfig,
    executors: Sequence[ExecutorTarget],
    ports: Sequence[int],
    topologies: Mapping[str, NodeTopology] | None = None,
) -> list[str]:
    """The arguments of ``docwire`` that serve a Flow's gateway alone, calling ``executors`` in order.

    Args:
        flow: the Flow's settings (protocols, prefetch, limits).
        executors: each executor's name and targets, in chain order (a name repeated: one target per shard).
        ports: one port per protocol of ``flow``.
        topologies: each executor's place in the graph (``--topology``, see ``topology_arguments``).

    Raises:
        ValueError: a reduce hook cannot be named for another process.
    """
    arguments = ["gateway", "serve", "--host", ALL_INTERFACES, "--port", *map(str, ports)]
    arguments += ["--protocol", *flow.protocols]
    for target in executors:
        arguments += ["--executor", target.argument()]
    for name, topology in (topologies or {}).items():
        topology_text = topology_argument(name, topology)
        arguments += [] if topology_text is None else ["--topology", topology_text]
    if flow.prefetch != _FLOW_DEFAULTS.prefetch:
        arguments += ["--prefetch", str(flow.prefetch)]
    if flow.max_message_bytes != DEFAULT_MAX_MESSAGE_BYTES:
        arguments += ["--max-message-bytes", str(flow.max_message_bytes)]
    arguments += ["--timeout-ready", f"{flow.timeout_ready:g}"]
    if flow.max_inflight is not None:
        arguments += ["--max-inflight", str(flow.max_inflight)]
    if flow.http_read_timeout != _FLOW_DEFAULTS.http_read_timeout:
        arguments += ["--http-read-timeout", f"{flow.http_read_timeout:g}"]
    return arguments


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``docwire executor serve``."""
    parser.add_argument("--uses", default=None, help="the Executor: module.Class, or a class name in --py-module")
    parser.add_argument("--name", default="executor", help="its name (routes, target_executor, logs)")
    parser.add_argument("--uses-with", type=json.loads, default={}, help="constructor arguments as a JSON object")
    parser.add_argument("--py-module", action="append", default=[], help="a Python file to import first (repeat)")
    parser.add_argument("--host", default=ALL_INTERFACES, help="the interface to bind (default: all)")
    parser.add_argument("--port", type=int, default=0, help="the port to bind (default: chosen by the OS)")
    parser.add_argument("--replica-id", type=int, default=0, help="which replica this is (runtime_args)")
    parser.add_argument("--shard-id", type=int, default=0, help="which shard this is (runtime_args)")
    parser.add_argument("--workspace", default=None, help="a directory the executor may write to")
    parser.add_argument("--max-message-bytes", type=int, default=DEFAULT_MAX_MESSAGE_BYTES)
    parser.add_argument(
        "--max-concurrency", type=int, default=None, help="the most requests it runs in its methods at once"
    )
    parser.add_argument(
        "--uses-dynamic-batching",
        type=json.loads,
        default={},
        help='endpoint -> batching policy as a JSON object: {"/embed": {"preferred_batch_size": 8, "timeout": 10}}',
    )
    parser.add_argument(
        "--max-connection-age",
        type=float,
        default=None,
        help="close each client connection after this many seconds, so clients balancing over DNS re-resolve",
    )
    parser.add_argument(
        "--error-details", choices=ERROR_DETAILS, default="full", help="message: no stack traces in error replies"
    )
    add_executor_tls_arguments(parser)


def add_gateway_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``docwire gateway serve``."""
    parser.add_argument(
        "--executor",
        type=ExecutorTarget.parse,
        action="append",
        default=[],
        help="name=target[,target...] in chain order (repeat); a target is host:port or dns:///name:port;"
        " a name given again is its next shard",
    )
    parser.add_argument(
        "--topology",
        type=TopologyArgument.parse,
        action="append",
        default=[],
        help='name={"needs": [...], "when": {...}, "floating": true, "polling": {...}, "reduce": "module.fn"}'
        " (repeat): an executor's place in a graph",
    )
    parser.add_argument("--host", default=ALL_INTERFACES, help="the interface to bind (default: all)")
    parser.add_argument("--port", type=int, nargs="+", default=[0], help="one port per protocol (0: the OS chooses)")
    parser.add_argument("--protocol", nargs="+", choices=PROTOCOLS, default=["grpc"])
    parser.add_argument("--prefetch", type=int, default=_FLOW_DEFAULTS.prefetch)
    parser.add_argument("--max-message-bytes", type=int, default=DEFAULT_MAX_MESSAGE_BYTES)
    parser.add_argument("--timeout-ready", type=float, default=60.0, help="seconds to wait for every executor")
    add_gateway_tls_arguments(parser)
    parser.add_argument("--max-inflight", type=int, default=None, help="the most requests in flight (429 beyond)")
    parser.add_argument(
        "--http-read-timeout", type=float, default=60.0, help="seconds an HTTP client has to send a request"
    )


def worker_spec(args: argparse.Namespace) -> WorkerSpec:
    """The spec ``docwire executor serve`` serves."""
    for option, value in (("--uses-with", args.uses_with), ("--uses-dynamic-batching", args.uses_dynamic_batching)):
        if not isinstance(value, dict):
            raise ValueError(f"{option} must be a JSON object, not {value!r}")
    return WorkerSpec(
        uses=args.uses,
        uses_with=args.uses_with,
        py_modules=tuple(args.py_module),
        name=args.name,
        replica_id=args.replica_id,
        shard_id=args.shard_id,
        host=args.host,
        port=args.port,
        workspace=args.workspace,
        max_message_bytes=args.max_message_bytes,
        max_connection_age=args.max_connection_age,
        error_details=args.error_details,
        max_concurrency=args.max_concurrency,
        uses_dynamic_batching=args.uses_dynamic_batching,
        tls=executor_tls(args),
    )


def gateway_spec(args: argparse.Namespace) -> GatewaySpec:
    """The spec ``docwire gateway serve`` serves.

    Raises:
        ValueError: no executor, not one port per protocol, or a graph that cannot run (``TopologyError``).
    """
    if not args.executor:
        raise ValueError("give the executors in chain order: --executor name=host:port ...")
    ports = tuple(args.port) if len(args.port) > 1 else (args.port[0],) + (0,) * (len(args.protocol) - 1)
    if len(ports) != len(args.protocol):
        raise ValueError(f"--port {list(args.port)} must give one port per protocol {args.protocol}")
    executors = executor_nodes(
        [(t.name, t.addresses) for t in args.executor], {t.name: t.topology for t in args.topology}
    )
    check_topology([(node.name, node.topology) for node in executors])
    return GatewaySpec(
        executors=executors,
        host=args.host,
        port=ports[0],
        protocols=tuple(args.protocol),
        ports=ports,
        prefetch=args.prefetch,
        max_message_bytes=args.max_message_bytes,
        discovery_timeout=args.timeout_ready,
        executor_tls=gateway_executor_tls(args),
        max_inflight=args.max_inflight,
        http_read_timeout=args.http_read_timeout,
    )
