"""The model of a Flow: what the Python API (``Flow().add(...)``) and a YAML file both describe.

YAML spelling (the incumbent's, read unchanged; what docwire does not support is refused, see
``yaml_schema``)::

    jtype: Flow            # optional
    version: "1"           # optional, read and ignored
    with:                  # the Flow's own settings
      port: 12345          # or, with protocol: [grpc, http, websocket], one port each: [12345, 12346, 12347]
      ssl_certfile: cert.pem   # TLS for clients on every protocol (grpcs://, https://, wss://);
      ssl_keyfile: key.pem     # paths relative to the YAML file
      cors: [https://app.example]  # or true for every origin (HTTP; WebSocket refuses other Origins)
    executors:
      - name: encoder
        uses: my_package.Encoder   # or a class name + py_modules, an executor YAML file, or that YAML inline
        replicas: 2
        uses_with: {model: small}
        py_modules: [executors.py] # paths relative to the YAML file
      - name: indexer
        uses: my_package.Indexer
        needs: [encoder]           # the graph: needs, when, floating, shards, polling, reduce (Flow.add)
        shards: 2
        polling: {/search: ALL}

An executor YAML file (``uses: encoder.yml``) holds ``jtype: ClassName``, ``with:``
(constructor arguments) and ``py_modules:`` (at the top, or under ``metas:``); ``uses_with``
in the Flow wins over its ``with``.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docwire.executor.base import Executor
from docwire.executor.batching import check_scheduling
from docwire.gateway.doc_filter import compile_filter
from docwire.gateway.topology import NodeTopology, ReduceHook, TopologyError, polling_table
from docwire.observability.spec import DEFAULT_TRACES_EXPORTER_PORT
from docwire.orchestration.placement import check_placement
from docwire.orchestration.yaml_schema import (
    SUPPORTED_KEYS,
    ExecutorYaml,
    Findings,
    Section,
    executor_yaml,
    read_yaml,
)
from docwire.runtime.status import ERROR_DETAILS
from docwire.transports.tls import MutualTls
from docwire_contract.conventions import DEFAULT_MAX_MESSAGE_BYTES
from docwire_contract.errors import BadRequest

__all__ = ["PROTOCOLS", "ExecutorConfig", "FlowConfig", "load_flow_yaml"]

#: The protocols a gateway serves.
PROTOCOLS = ("grpc", "http", "websocket")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorConfig:
    """One executor of a Flow (a Deployment).

    Attributes:
        uses: the Executor class, ``"module.Class"``, a class name found in ``py_modules``,
            an executor YAML file, or None for a pass-through executor.
        name: the executor's name: routes, ``target_executor`` and ``<name>__param`` use it.
        replicas: how many worker processes serve it, balanced round-robin.
        uses_with: keyword arguments for the executor's constructor.
        py_modules: Python files to import in the worker before resolving ``uses``.
        workspace: a directory the executor may write to.
        needs: executors (or ``"gateway"``) whose replies it gets; empty: the previous one (see ``topology``).
        when: a filter on the documents it gets (docarray's query language); the others go by it.
        floating: run it off the response path (its reply is not awaited, its errors are logged).
        shards: how many shards serve it (each with ``replicas`` processes).
        polling: ``"ANY"`` / ``"ALL"``, or per endpoint ``{"/search": "ALL", "*": "ANY"}``.
        reduce: a function merging the document lists of its upstream replies or ``ALL`` shards, or the
            ``"module.function"`` naming it (importable by the gateway).
        monitoring: serve each replica's Prometheus metrics (None: as the Flow's ``monitoring``).
        port_monitoring: the first replica's metrics port (replica ``i`` gets ``port_monitoring + i``);
            0: OS-chosen.
        tracing: send a span per request to the trace collector (None: as the Flow's ``tracing``).
        traces_exporter_host: the collector's host (None: the Flow's).
        traces_exporter_port: the collector's OTLP/gRPC port (None: the Flow's).
        host: the interface its replicas bind (default 127.0.0.1: only the gateway reaches them); with
            ``external``, the address where it is served (a host name, an IP, or ``dns://server/name``).
        port: the port it binds (0: the OS chooses; replica ``i`` binds ``port + i``); with ``external``, its port.
        external: served elsewhere (``docwire executor serve`` on another machine): the Flow starts no process for
            it and its gateway calls ``host:port`` as any other executor.
        env: environment variables set in its processes (and in its containers when exported).
        max_concurrency: the most requests each replica runs in its methods at once (None: no bound).
        uses_dynamic_batching: endpoint -> ``{"preferred_batch_size": N, "timeout": ms, "max_batch_size": M}``:
            group requests to that endpoint into one call (over the methods' ``@dynamic_batching``).
    """

    uses: type[Executor] | str | None = None
    name: str
    replicas: int = 1
    uses_with: Mapping[str, Any] = field(default_factory=dict)
    py_modules: tuple[str, ...] = ()
    workspace: str | None = None
    needs: str | Sequence[str] | None = None
    when: Mapping[str, Any] | None = None
    floating: bool = False
    shards: int = 1
    polling: str | Mapping[str, str] = "ANY"
    reduce: ReduceHook | str | None = None

    monitoring: bool | None = None
    port_monitoring: int = 0
    tracing: bool | None = None
    traces_exporter_host: str | None = None
    traces_exporter_port: int | None = None

    host: str | None = None
    port: int = 0
    external: bool = False
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def topology(self) -> NodeTopology:
        """Its place in the Flow's graph, as the gateway reads it."""
        needs = (self.needs,) if isinstance(self.needs, str) else tuple(self.needs or ())
        return NodeTopology(
            needs=needs,
            when=None if self.when is None else dict(self.when),
            floating=bool(self.floating),
            shards=self.shards,
            polling=polling_table(self.polling, self.name),
            reduce=self.reduce,
        )

    max_concurrency: int | None = None
    uses_dynamic_batching: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.shards < 1:
            raise ValueError(f"executor {self.name!r}: shards must be at least 1, not {self.shards}")
        if self.when is not None:
            try:
                compile_filter(self.when, f"the when of executor {self.name!r}")
            except BadRequest as exc:
                raise TopologyError(str(exc)) from exc
        self.topology  # noqa: B018  (checks polling)
        if self.replicas < 1:
            raise ValueError(f"executor {self.name!r}: replicas must be at least 1, not {self.replicas}")
        check_scheduling(self.name, self.max_concurrency, self.uses_dynamic_batching)
        if "__" in self.name or not self.name:
            raise ValueError(f"executor name {self.name!r} must be non-empty and must not contain '__'")
        check_placement(self)
        object.__setattr__(self, "env", {str(k): str(v) for k, v in self.env.items()})  # YAML may say A: 1

    def resolved(self, base: Path | None = None, findings: Findings | None = None) -> ExecutorConfig:
        """This config with an executor YAML in ``uses`` read and py_modules made absolute.

        Args:
            base: the folder relative paths start from (default: the current directory).
            findings: collects what the executor YAML holds that docwire does not support, for the
                caller to raise with its own; without it, this raises.

        Raises:
            UnsupportedConfig: the executor YAML holds keys docwire does not support (without ``findings``).
            ValueError: the executor YAML is not YAML or holds no mapping.
        """
        root = base or Path.cwd()
        modules = tuple(str((root / m).resolve()) for m in self.py_modules)
        resolved = dataclasses.replace(self, py_modules=modules)
        if not (isinstance(self.uses, str) and self.uses.endswith((".yml", ".yaml"))):
            return resolved
        path = (root / self.uses).resolve()
        own = findings or Findings(self.uses)
        where = self.uses if findings is None else f"{self.uses} (the YAML of executor {self.name!r})"
        read = executor_yaml(read_yaml(path), path.parent, where, own)
        if findings is None:
            own.raise_if_any()
        return resolved.with_executor_yaml(read)

    def with_executor_yaml(self, read: ExecutorYaml) -> ExecutorConfig:
        """This config using what an executor YAML says: its class, its ``with`` under ``uses_with``, its modules."""
        return dataclasses.replace(
            self,
            uses=read.uses,
            uses_with={**read.uses_with, **self.uses_with},
            py_modules=self.py_modules + read.py_modules,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowConfig:
    """A Flow's own settings.

    Attributes:
        port: the gateway's port (0 lets the OS choose), or one port per protocol.
        host: the address the gateway binds.
        protocol: the protocol the gateway serves (``"grpc"``, ``"http"``, ``"websocket"``), or several, each
            on its own port.
        prefetch: the most requests one client stream may have in flight at the gateway.
        max_message_bytes: the largest message any hop accepts.
        timeout_ready: seconds to wait for every process to be ready.
        ssl_certfile: a PEM certificate (chain) the gateway presents to clients: with ``ssl_keyfile``,
            gRPC is served over TLS (``grpcs://``), HTTP as HTTPS and WebSocket as ``wss://``. Executors stay
            plaintext on loopback.
        ssl_keyfile: the PEM private key of ``ssl_certfile``.
        cors: let browsers call the HTTP port from other origins: True for any origin, or a list of origins
            (``"https://app.example"``). Off by default. With a list, the WebSocket port refuses handshakes
            from browsers on other origins.
        restart_executors: start an executor replica that exits while the Flow serves again, on its port.
        auth_tokens: tokens the gateway accepts (``authorization: Bearer <token>``) before any executor
            runs; empty (and no ``$DOCWIRE_AUTH_TOKENS``): no token needed. See ``docwire.gateway.auth``.
        error_details: what an executor's exception tells the caller: ``"full"`` (its class, message and
            stack trace) or ``"message"`` (class and message: no stack, no file paths).
        monitoring: serve Prometheus metrics of the gateway (on ``port_monitoring``) and of every executor
            replica whose own ``monitoring`` is not False (each on its own port).
        port_monitoring: the gateway's metrics port (0: OS-chosen; see ``Flow.monitoring_ports``).
        tracing: send a span per request of the gateway and of every executor (unless its own ``tracing``
            is False) over OTLP/gRPC to ``traces_exporter_host:traces_exporter_port``.
        traces_exporter_host: the trace collector's host, or a URL (``http://collector``).
        traces_exporter_port: the trace collector's OTLP/gRPC port.
        executor_tls: mutual TLS to the executors served elsewhere (``external``): the gateway's certificate
            and key and the executors' CA (``transports.tls``; YAML ``{certfile, keyfile, ca_file}``).
        max_inflight: the most requests the whole gateway has in flight; one more is refused with
            ``Overloaded`` (RESOURCE_EXHAUSTED, HTTP 429 with Retry-After). None: no bound beyond ``prefetch``.
        http_read_timeout: seconds an HTTP or WebSocket client has to send a request's headers and body
            (from its connection or its first byte); a slower one is cut (``transports.http_timeouts``).
    """

    port: int | Sequence[int] = 0
    host: str = "0.0.0.0"
    protocol: str | Sequence[str] = "grpc"
    prefetch: int = 100
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    timeout_ready: float = 60.0
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    cors: bool | Sequence[str] = False
    restart_executors: bool = True
    auth_tokens: Sequence[str] = ()
    error_details: str = "full"
    monitoring: bool = False
    port_monitoring: int = 0
    tracing: bool = False
    traces_exporter_host: str = "127.0.0.1"
    traces_exporter_port: int = DEFAULT_TRACES_EXPORTER_PORT
    executor_tls: MutualTls | None = None
    max_inflight: int | None = None
    http_read_timeout: float = 60.0

    @property
    def tls(self) -> bool:
        """Whether the gateway serves its clients over TLS."""
        return self.ssl_certfile is not None

    @property
    def cors_origins(self) -> tuple[str, ...]:
        """The origins allowed to call the HTTP port from a browser (``("*",)``: any; empty: CORS off)."""
        if self.cors is True:
            return ("*",)
        if self.cors is False:
            return ()
        return tuple(self.cors)

    @property
    def protocols(self) -> tuple[str, ...]:
        """Every protocol served, the main one first."""
        return (self.protocol,) if isinstance(self.protocol, str) else tuple(self.protocol)

    @property
    def ports(self) -> tuple[int, ...]:
        """One port per protocol: a single ``port`` goes to the first, the others are OS-chosen."""
        if isinstance(self.port, int):
            return (self.port,) + (0,) * (len(self.protocols) - 1)
        return tuple(self.port)

    def __post_init__(self) -> None:
        if self.error_details not in ERROR_DETAILS:
            raise ValueError(f"error_details must be one of {list(ERROR_DETAILS)}, not {self.error_details!r}")
        object.__setattr__(self, "auth_tokens", tuple(self.auth_tokens))
        if isinstance(self.protocol, str):  # the incumbent's YAML may say GRPC or HTTP
            object.__setattr__(self, "protocol", self.protocol.lower())
        else:
            object.__setattr__(self, "protocol", tuple(p.lower() if isinstance(p, str) else p for p in self.protocol))
        if not isinstance(self.port, int):
            object.__setattr__(self, "port", tuple(int(p) for p in self.port))
        unknown = [p for p in self.protocols if p not in PROTOCOLS]
        if unknown or not self.protocols:
            raise ValueError(f"protocol {unknown or self.protocol!r} is not served; use one or more of {PROTOCOLS}")
        if len(set(self.protocols)) != len(self.protocols):
            raise ValueError(f"protocol {list(self.protocols)} names a protocol twice")
        if not isinstance(self.port, int) and len(self.port) != len(self.protocols):
            raise ValueError(f"port {list(self.port)} must give one port per protocol {list(self.protocols)}")
        if self.prefetch < 1:
            raise ValueError(f"prefetch must be at least 1, not {self.prefetch}")
        self._check_tls()
        self._check_cors()
        self._check_limits()

    def _check_tls(self) -> None:
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            given, missing = (
                ("ssl_certfile", "ssl_keyfile") if self.ssl_keyfile is None else ("ssl_keyfile", "ssl_certfile")
            )
            raise ValueError(f"TLS needs both ssl_certfile and ssl_keyfile: {given} is given, {missing} is not")
        if self.ssl_certfile is None or self.ssl_keyfile is None:
            return
        paths = {}
        for name, value in (("ssl_certfile", self.ssl_certfile), ("ssl_keyfile", self.ssl_keyfile)):
            path = Path(value).expanduser().resolve()
            if not path.is_file():
                raise ValueError(f"{name} {str(value)!r} does not exist or is not a file ({path})")
            paths[name] = str(path)
            object.__setattr__(self, name, str(path))
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                paths["ssl_certfile"],
                paths["ssl_keyfile"],
                password=lambda: b"",  # an encrypted key fails, never prompts
            )
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ValueError(
                f"cannot use ssl_certfile {paths['ssl_certfile']!r} with ssl_keyfile {paths['ssl_keyfile']!r}: "
                f"{exc} (both must be PEM, the key unencrypted and matching the certificate)"
            ) from exc

    def _check_limits(self) -> None:
        if isinstance(self.executor_tls, Mapping):
            object.__setattr__(self, "executor_tls", MutualTls.from_mapping(self.executor_tls))
        if self.max_inflight is not None and self.max_inflight < 1:
            raise ValueError(f"max_inflight must be at least 1 (or None: no bound), not {self.max_inflight}")
        if not self.http_read_timeout > 0:
            raise ValueError(f"http_read_timeout must be a positive number of seconds, not {self.http_read_timeout}")

    def _check_cors(self) -> None:
        if isinstance(self.cors, bool):
            return
        if isinstance(self.cors, str) or not all(isinstance(o, str) and o for o in self.cors):
            raise ValueError(
                f"cors must be true, false or a list of origins such as ['https://app.example'], not {self.cors!r}"
            )
        object.__setattr__(self, "cors", tuple(self.cors))


def load_flow_yaml(path: str | Path) -> tuple[FlowConfig, list[ExecutorConfig]]:
    """Reads a Flow YAML file into its settings and executors (paths resolved against the file).

    Raises:
        UnsupportedConfig: the file (or an executor YAML it names) holds keys docwire does not support;
            the message names every one and where it is.
        ValueError: the file is not a Flow description; the message names the bad key or value.
    """
    file = Path(path).resolve()
    data = read_yaml(file)
    findings = Findings(str(path))
    findings.keys(data, Section.FLOW, "the top level")
    if data.get("jtype", "Flow") != "Flow":
        findings.value("jtype", f"{data['jtype']!r}: a Flow YAML file has jtype: Flow")
    settings = findings.mapping(data.get("with"), "with", "with")
    findings.keys(settings, Section.FLOW_WITH, "with")
    entries = data.get("executors") or []
    if not isinstance(entries, list):
        findings.value("executors", f"must be a list of executors, not {type(entries).__name__}")
        entries = []
    executors = []
    for index, raw in enumerate(entries):
        entry = findings.mapping(raw, f"executors[{index}]", "an executor")
        name = str(entry.get("name") or f"executor{index}")
        where = f"executor {name!r} (executors[{index}])"
        findings.keys(entry, Section.EXECUTOR, where)
        findings.uses(entry.get("uses"), where)
        inline = entry.get("uses") if isinstance(entry.get("uses"), Mapping) else None
        known = {k: v for k, v in entry.items() if k in SUPPORTED_KEYS[Section.EXECUTOR] and k != "uses"}
        known["name"] = name
        known["py_modules"] = tuple(entry.get("py_modules") or ())
        config = ExecutorConfig(**known, uses=None if inline is not None else entry.get("uses"))
        if inline is not None:
            read = executor_yaml(inline, file.parent, f"{where} uses", findings)
            executors.append(config.resolved(file.parent).with_executor_yaml(read))
        else:
            executors.append(config.resolved(file.parent, findings))
    findings.raise_if_any()
    for key in ("ssl_certfile", "ssl_keyfile"):
        if settings.get(key) is not None:
            settings[key] = str(file.parent / Path(settings[key]).expanduser())
    if isinstance(settings.get("executor_tls"), Mapping):
        settings["executor_tls"] = MutualTls.from_mapping(settings["executor_tls"], file.parent)
    return FlowConfig(**settings), executors
