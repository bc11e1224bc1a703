"""A Flow laid out as separate services, one per executor plus the gateway: what Kubernetes and compose files hold.

Each service runs the docwire image with the arguments of ``docwire executor serve`` or ``docwire
gateway serve`` (``commands``), on fixed ports: the gateway on the Flow's ports (8080, 8081, ... for
those left to the OS), executor ``i`` on its own ``port`` or ``8100 + i``, each of its shards a service of its own
(``<name>-shard-<j>``). The gateway reaches each
executor's replicas through one DNS name (``dns:///<name>...:<port>``) that answers with every replica,
and balances over them itself (``docwire.gateway.balancing``). External executors get no service: the
gateway calls their ``host:port``. A graph (needs, when, floating, polling, reduce) rides on the
gateway's command line as ``--topology`` arguments (``topology_arguments``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from docwire.gateway.auth import AUTH_TOKENS_ENV
from docwire.orchestration.commands import ExecutorTarget, executor_arguments, gateway_arguments
from docwire.orchestration.config import ExecutorConfig, FlowConfig
from docwire.orchestration.placement import dial_address, external_address

__all__ = [
    "EXECUTOR_BASE_PORT",
    "GATEWAY_BASE_PORT",
    "MAX_CONNECTION_AGE_S",
    "ServicePlan",
    "plan_services",
    "service_name",
]

#: The gateway's first port when the Flow leaves it to the OS (one more per further protocol).
GATEWAY_BASE_PORT: Final = 8080
#: Executor ``i``'s port when it has none of its own.
EXECUTOR_BASE_PORT: Final = 8100
#: Executors close each connection after this long, so the gateway resolves their name again and finds
#: replicas added since (gRPC does not poll DNS; see ``docwire.gateway.balancing``).
MAX_CONNECTION_AGE_S: Final = 30.0
#: The name of the gateway's service.
GATEWAY: Final = "gateway"

_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicePlan:
    """One service: a gateway or an executor, run as ``replicas`` copies of the image with ``arguments``.

    Attributes:
        name: the service's name (a DNS label).
        role: ``"gateway"`` or ``"executor"``.
        arguments: what follows ``docwire`` in the container.
        ports: protocol -> port the container listens on (``grpc`` for an executor).
        replicas: how many copies.
        env: environment variables of the container.
        secret_env: environment variables whose values are secrets: not written, taken from the platform's
            secret store (the gateway's ``DOCWIRE_AUTH_TOKENS`` when the Flow has ``auth_tokens``).
    """

    name: str
    role: str
    arguments: tuple[str, ...]
    ports: Mapping[str, int]
    replicas: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    secret_env: tuple[str, ...] = ()

    @property
    def grpc_port(self) -> int | None:
        """The port that serves gRPC (and grpc.health.v1), if any."""
        return self.ports.get("grpc")


def service_name(executor: str) -> str:
    """The DNS label an executor's service is named by: its name, lower-cased, ``_`` as ``-``.

    Raises:
        ValueError: the name cannot be a DNS label.
    """
    label = executor.lower().replace("_", "-")
    if not _LABEL.fullmatch(label) or label == GATEWAY:
        raise ValueError(
            f"executor name {executor!r} cannot name a service: use letters, digits and '-' (or '_'), "
            f"starting with a letter, at most 63 characters, and not {GATEWAY!r}"
        )
    return label


def plan_services(
    flow: FlowConfig,
    executors: Sequence[ExecutorConfig],
    dns_name: Callable[[str], str],
    *,
    base: Path | None = None,
) -> list[ServicePlan]:
    """The gateway's service first, then one per executor the Flow launches.

    Args:
        flow: the Flow's settings.
        executors: its executors, in chain order.
        dns_name: the DNS name that answers with a service's replicas, from the service's name.
        base: py_modules under this folder are given relative to it (the image's working directory holds
            them); others keep their absolute path.

    Raises:
        ValueError: an executor name cannot name a service, two name the same, ``uses`` (or ``reduce``) is
            a class (a function) another process cannot import.
    """
    plans: list[ServicePlan] = []
    targets: list[ExecutorTarget] = []
    seen: dict[str, str] = {}
    for index, config in enumerate(executors):
        if config.external:
            targets.append(ExecutorTarget(config.name, (external_address(config),)))
            continue
        name = service_name(config.name)
        if name in seen:
            raise ValueError(f"executors {seen[name]!r} and {config.name!r} would both be service {name!r}")
        seen[name] = config.name
        port = config.port or EXECUTOR_BASE_PORT + index
        modules = [_relative(module, base) for module in config.py_modules]
        for shard, shard_name in enumerate(_shard_names(name, config.shards)):
            arguments = executor_arguments(
                config,
                port,
                py_modules=modules,
                max_message_bytes=flow.max_message_bytes,
                max_connection_age=MAX_CONNECTION_AGE_S,
                error_details=flow.error_details,
                shard_id=shard,
            )
            plans.append(
                ServicePlan(
                    name=shard_name,
                    role="executor",
                    arguments=tuple(arguments),
                    ports={"grpc": port},
                    replicas=config.replicas,
                    env=dict(config.env),
                )
            )
            # One --executor per shard, under the executor's name: the gateway reads them back as its shards.
            targets.append(ExecutorTarget(config.name, (dial_address(f"dns:///{dns_name(shard_name)}", port),)))
    ports = tuple(port or GATEWAY_BASE_PORT + i for i, port in enumerate(flow.ports))
    gateway = ServicePlan(
        name=GATEWAY,
        role="gateway",
        arguments=tuple(gateway_arguments(flow, targets, ports, {c.name: c.topology for c in executors})),
        ports=dict(zip(flow.protocols, ports, strict=True)),
        secret_env=(AUTH_TOKENS_ENV,) if flow.auth_tokens else (),
    )
    return [gateway, *plans]


def _shard_names(name: str, shards: int) -> list[str]:
    """The service of each shard: the executor's own for one, ``<name>-shard-<i>`` for several.

    Raises:
        ValueError: a shard's name is too long for a DNS label.
    """
    if shards == 1:
        return [name]
    names = [f"{name}-shard-{i}" for i in range(shards)]
    if not all(_LABEL.fullmatch(shard) for shard in names):
        raise ValueError(f"executor service {name!r} with {shards} shards: {names[-1]!r} is over 63 characters")
    return names


def _relative(module: str, base: Path | None) -> str:
    path = Path(module)
    if base is not None and path.is_relative_to(base):
        return str(path.relative_to(base))
    return module
