"""Flow: executors behind one gateway (a chain, or a graph through ``needs``), started and stopped as processes."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from docwire.executor.base import Executor
from docwire.gateway.router import ExecutorNode
from docwire.gateway.spec import GatewaySpec
from docwire.gateway.topology import ReduceHook, check_topology
from docwire.orchestration.banner import print_ready_banner
from docwire.orchestration.compose import compose_file, write_compose_file
from docwire.orchestration.config import ExecutorConfig, FlowConfig, load_flow_yaml
from docwire.orchestration.kubernetes import DEFAULT_IMAGE, kubernetes_manifests, write_kubernetes_manifests
from docwire.orchestration.observing import gateway_observability, replica_observability
from docwire.orchestration.placement import LOOPBACK, dial_address, external_address, reachable_host
from docwire.orchestration.preloader import Preloader
from docwire.orchestration.process import STOP_TIMEOUT_S, ServiceProcess, StartupError
from docwire.orchestration.supervisor import Supervisor
from docwire.runtime.spec import WorkerSpec
from docwire.transports.tls import MutualTls

if TYPE_CHECKING:
    from docwire_client import Client

__all__ = ["Flow"]

#: Executors listen on loopback unless ``host`` is given: only their gateway talks to them.
EXECUTOR_HOST = LOOPBACK


class Flow:
    """A pipeline of executors behind one gateway.

    Use it as a context manager: entering starts one process per executor replica
    and the gateway, and waits until all are ready; leaving stops them all.

    Example::

        with Flow(port=12345).add(uses=Encoder, replicas=2).add(uses=Indexer) as f:
            docs = f.post("/index", inputs=[TextDoc(text="hello")])

    Args:
        port: the gateway's port (default: chosen by the OS, see ``.port``), or one per protocol.
        host: the address the gateway binds (default all interfaces).
        protocol: the protocol clients use, ``"grpc"``, ``"http"`` or ``"websocket"``, or a list of them served
            side by side by one gateway, each on its own port (see ``.ports``).
        prefetch: the most requests one client stream may have in flight at the gateway.
        max_message_size: the largest message, in bytes, any hop accepts.
        timeout_ready: seconds to wait for every process to become ready.
        ssl_certfile: a PEM certificate (chain) file; with ``ssl_keyfile`` the gateway serves its clients
            over TLS on every protocol (``grpcs://``, ``https://``). Executors stay plaintext on loopback.
        ssl_keyfile: the PEM private key of ``ssl_certfile`` (unencrypted).
        cors: let browsers call the HTTP port from other origins: True for any, or a list of origins.
        restart_executors: start an executor replica that exits (crashes, is killed) again on its port;
            it rejoins its executor's replicas (``docwire.orchestration.supervisor``).
        auth_tokens: tokens clients must send as ``authorization: Bearer <token>`` (gRPC metadata, HTTP or
            WebSocket handshake header) before any executor runs; also read from ``$DOCWIRE_AUTH_TOKENS``.
        error_details: ``"full"`` (executor errors carry their stack trace) or ``"message"`` (no stack, no
            file paths: for production).
        monitoring: serve Prometheus metrics of the gateway and of every executor replica (see ``monitoring_ports``).
        port_monitoring: the gateway's metrics port (default: chosen by the OS).
        tracing: send OpenTelemetry spans (one per request at the gateway, one per executor call) over OTLP/gRPC.
        traces_exporter_host: the trace collector's host (default 127.0.0.1), or a URL (``http://collector``).
        traces_exporter_port: the trace collector's OTLP/gRPC port (default 4317).
        executor_tls: ``MutualTls(certfile=..., keyfile=..., ca_file=...)``: the gateway dials every
            ``external`` executor over mutual TLS, showing this certificate and verifying the executor's against
            ``ca_file`` (``docwire executor serve --tls-cert --tls-key --tls-client-ca`` on the other end).
        max_inflight: the most requests the gateway has in flight at once, over every client and protocol;
            one more is refused with ``Overloaded`` (RESOURCE_EXHAUSTED / HTTP 429, Retry-After). Default: no bound.
        http_read_timeout: seconds an HTTP or WebSocket client has to send a request's headers and body;
            a slower one (slowloris) is cut (default 60).
    """

    def __init__(
        self,
        *,
        port: int | Sequence[int] | None = None,
        host: str = "0.0.0.0",
        protocol: str | Sequence[str] = "grpc",
        prefetch: int = 100,
        max_message_size: int | None = None,
        timeout_ready: float = 60.0,
        ssl_certfile: str | Path | None = None,
        ssl_keyfile: str | Path | None = None,
        cors: bool | Sequence[str] = False,
        restart_executors: bool = True,
        auth_tokens: Sequence[str] = (),
        error_details: str = "full",
        monitoring: bool = False,
        port_monitoring: int | None = None,
        tracing: bool = False,
        traces_exporter_host: str | None = None,
        traces_exporter_port: int | None = None,
        executor_tls: MutualTls | None = None,
        max_inflight: int | None = None,
        http_read_timeout: float = 60.0,
    ) -> None:
        settings: dict[str, Any] = {"port": port or 0, "host": host, "protocol": protocol, "prefetch": prefetch}
        settings |= {"monitoring": monitoring, "port_monitoring": port_monitoring or 0, "tracing": tracing}
        if traces_exporter_host is not None:
            settings["traces_exporter_host"] = traces_exporter_host
        if traces_exporter_port is not None:
            settings["traces_exporter_port"] = traces_exporter_port
        if max_message_size is not None:
            settings["max_message_bytes"] = max_message_size
        self._config = FlowConfig(
            **settings,
            timeout_ready=timeout_ready,
            ssl_certfile=None if ssl_certfile is None else str(ssl_certfile),
            ssl_keyfile=None if ssl_keyfile is None else str(ssl_keyfile),
            cors=cors,
            restart_executors=restart_executors,
            auth_tokens=tuple(auth_tokens),
            error_details=error_details,
            executor_tls=executor_tls,
            max_inflight=max_inflight,
            http_read_timeout=http_read_timeout,
        )
        self._executors: list[ExecutorConfig] = []
        self._processes: list[ServiceProcess] = []
        self._supervisor: Supervisor | None = None
        self._replica_names: list[tuple[str, int]] = []  # (executor, replica) of each of _processes
        self._gateway: ServiceProcess | None = None
        self._nodes: list[ExecutorNode] = []
        self._client: Client | None = None
        self._base_dir: Path | None = None
        self._preloader: Preloader | None = None  # forks the replicas (docwire.runtime.preloaded)

    @classmethod
    def load_config(cls, path: str | Path) -> Flow:
        """Builds a Flow from a YAML file (see ``docwire.orchestration.config``)."""
        config, executors = load_flow_yaml(path)
        flow = cls()
        flow._config = config
        flow._executors = executors
        check_topology([(e.name, e.topology) for e in executors])
        flow._base_dir = Path(path).resolve().parent
        return flow

    @classmethod
    def from_config(cls, config: FlowConfig, executors: Sequence[ExecutorConfig]) -> Flow:
        """Builds a Flow from its model."""
        flow = cls()
        flow._config = config
        flow._executors = list(executors)
        check_topology([(e.name, e.topology) for e in executors])
        return flow

    def add(
        self,
        uses: type[Executor] | str | None = None,
        *,
        name: str | None = None,
        replicas: int = 1,
        uses_with: Mapping[str, Any] | None = None,
        py_modules: Sequence[str] = (),
        workspace: str | None = None,
        needs: str | Sequence[str] | None = None,
        when: Mapping[str, Any] | None = None,
        floating: bool = False,
        shards: int = 1,
        polling: str | Mapping[str, str] = "ANY",
        reduce: ReduceHook | str | None = None,
        monitoring: bool | None = None,
        port_monitoring: int | None = None,
        tracing: bool | None = None,
        traces_exporter_host: str | None = None,
        traces_exporter_port: int | None = None,
        host: str | None = None,
        port: int = 0,
        external: bool = False,
        env: Mapping[str, str] | None = None,
        max_concurrency: int | None = None,
        uses_dynamic_batching: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Flow:
        """Appends an executor and returns the Flow (so calls chain).

        Args:
            uses: an Executor subclass, ``"module.Class"``, an executor YAML file, or None (pass-through).
            name: its name (default ``executor<i>``); must be unique in the Flow.
            replicas: how many processes serve it.
            uses_with: keyword arguments for its constructor.
            py_modules: Python files to import before resolving ``uses``.
            workspace: a directory it may write to.
            needs: the executor(s) whose replies it gets, or ``"gateway"`` (the client's request); several
                are awaited and merged by document id. Default: the previous executor that is not floating.
            when: a filter on the documents it gets, ``{"tags__key": {"$eq": 5}}``; the others go by it.
            floating: run it off the response path: the reply does not wait for it, its errors are logged.
            shards: how many shards serve it; each shard has ``replicas`` processes and its own
                ``runtime_args.shard_id``.
            polling: ``"ANY"`` (one shard per request, in turn) or ``"ALL"`` (every shard, replies merged), or
                a dict per endpoint, ``{"/search": "ALL", "*": "ANY"}``.
            reduce: ``fn(docs_matrix: list[DocList[T]]) -> DocList[T]``, merging the document lists of its
                upstream replies (or of ``ALL`` shards) in place of the default merge by id.
            monitoring: serve each replica's Prometheus metrics (default: as the Flow).
            port_monitoring: the first replica's metrics port; replica ``i`` gets ``port_monitoring + i``
                (default: chosen by the OS).
            tracing: send a span per request to the trace collector (default: as the Flow).
            traces_exporter_host: the trace collector's host (default: the Flow's).
            traces_exporter_port: the trace collector's port (default: the Flow's).
            host: the interface its replicas bind (default 127.0.0.1); with ``external``, where it is served.
            port: the port it binds (default: chosen by the OS); with ``external``, the port it is served on.
            external: it is served elsewhere (``docwire executor serve``): the Flow calls ``host:port``.
            env: environment variables for its processes.
            max_concurrency: the most requests each replica runs in its methods at once; the others wait
                in arrival order (default: no bound).
            uses_dynamic_batching: ``{"/endpoint": {"preferred_batch_size": 8, "timeout": 10}}``: group
                requests to an endpoint into one call (timeout in ms; see ``dynamic_batching``).

        Raises:
            ValueError: the name is taken; a ``TopologyError`` (a ValueError) when ``needs`` names an
                executor not added before, or ``when`` or ``polling`` is not valid.
        """
        chosen = name or f"executor{len(self._executors)}"
        if any(e.name == chosen for e in self._executors):
            raise ValueError(f"the Flow already has an executor named {chosen!r}")
        config = ExecutorConfig(
            uses=uses,
            name=chosen,
            replicas=replicas,
            uses_with=dict(uses_with or {}),
            py_modules=tuple(py_modules),
            workspace=workspace,
            needs=needs,
            when=when,
            floating=floating,
            shards=shards,
            polling=polling,
            reduce=reduce,
            monitoring=monitoring,
            port_monitoring=port_monitoring or 0,
            tracing=tracing,
            traces_exporter_host=traces_exporter_host,
            traces_exporter_port=traces_exporter_port,
            host=host,
            port=port,
            external=external,
            env=dict(env or {}),
            max_concurrency=max_concurrency,
            uses_dynamic_batching=dict(uses_dynamic_batching or {}),
        )
        check_topology([(e.name, e.topology) for e in (*self._executors, config)])
        self._executors.append(config.resolved())
        return self

    @property
    def config(self) -> FlowConfig:
        """The Flow's settings."""
        return self._config

    @property
    def executors(self) -> list[ExecutorConfig]:
        """The executors, in chain order."""
        return list(self._executors)

    @property
    def port(self) -> int | None:
        """The gateway's port: the bound one once started, else the configured one (None: OS-chosen)."""
        if self._gateway is not None and self._gateway.port is not None:
            return self._gateway.port
        return self._config.ports[0] or None

    @property
    def ports(self) -> dict[str, int]:
        """Protocol -> the gateway's port for it: bound ones once started, else configured ones (0: OS-chosen)."""
        if self._gateway is not None and self._gateway.ports:
            return dict(self._gateway.ports)
        return dict(zip(self._config.protocols, self._config.ports, strict=True))

    @property
    def protocol(self) -> str:
        """The gateway's main protocol (the first one given)."""
        return self._config.protocols[0]

    @property
    def protocols(self) -> tuple[str, ...]:
        """Every protocol the gateway serves."""
        return self._config.protocols

    @property
    def host(self) -> str:
        """The address clients on this machine use to reach the gateway."""
        return "127.0.0.1" if self._config.host in ("0.0.0.0", "::") else self._config.host

    @property
    def executor_addresses(self) -> dict[str, tuple[str, ...]]:
        """Executor name -> its replicas' ``host:port`` addresses, in replica order (once started)."""
        return {node.name: node.addresses for node in self._nodes}

    @property
    def port_monitoring(self) -> int | None:
        """The port the gateway serves its Prometheus metrics on, once started (None: monitoring is off)."""
        return None if self._gateway is None else self._gateway.monitoring_port

    @property
    def monitoring_ports(self) -> dict[str, int]:
        """Every metrics port, once started: ``"gateway"`` and ``"<executor>/rep-<i>"`` -> port."""
        found = {} if self.port_monitoring is None else {"gateway": self.port_monitoring}
        for (name, replica), process in zip(self._replica_names, self._processes, strict=True):
            if process.monitoring_port is not None:
                found[f"{name}/rep-{replica}"] = process.monitoring_port
        return found

    def pids(self) -> list[int]:
        """The process ids of every executor replica and the gateway."""
        procs = [*self._processes, *([self._gateway] if self._gateway else [])]
        return [p.pid for p in procs if p.pid is not None]

    def start(self) -> Flow:
        """Starts every executor replica, then the gateway; returns once all are ready.

        Raises:
            StartupError: a process failed or timed out; names it and shows its last log lines.
        """
        if self._gateway is not None:
            raise RuntimeError("the Flow is already started")
        try:
            self._preloader = self._start_preloader()  # first: it may fork this process, still single-threaded
            gateway = self._spawn_gateway()  # imports its modules while the executors start
            self._nodes = self._start_executors()
            self._gateway = self._start_gateway(self._config.ports, gateway)
            if self._config.restart_executors:
                self._supervisor = Supervisor(self._processes, self._config.timeout_ready)
                self._supervisor.start()
        except BaseException:
            self.close()
            raise
        others = {name: port for name, port in self.ports.items() if name != self.protocol}
        print_ready_banner(
            type(self).__name__, self.protocol, self._config.host, self.port or 0, others, tls=self._config.tls
        )
        return self

    def _spawn_gateway(self) -> ServiceProcess:
        """The gateway's process, started; it waits for its spec (``_start_gateway``)."""
        gateway = ServiceProcess("gateway", "docwire.gateway.app", None)
        self._gateway = gateway  # stopped by close() even if it never gets ready
        gateway.start(spec_later=True)
        return gateway

    def _start_gateway(self, ports: tuple[int, ...], spawned: ServiceProcess | None = None) -> ServiceProcess:
        spec = GatewaySpec(
            executors=tuple(self._nodes),
            host=self._config.host,
            port=ports[0],
            protocols=self._config.protocols,
            ports=ports,
            prefetch=self._config.prefetch,
            max_message_bytes=self._config.max_message_bytes,
            discovery_timeout=self._config.timeout_ready,
            ssl_certfile=self._config.ssl_certfile,
            ssl_keyfile=self._config.ssl_keyfile,
            cors_origins=self._config.cors_origins,
            auth_tokens=tuple(self._config.auth_tokens),
            observability=gateway_observability(self._config),
            executor_tls=self._config.executor_tls,
            plaintext_executors=frozenset(e.name for e in self._executors if not e.external),
            max_inflight=self._config.max_inflight,
            http_read_timeout=self._config.http_read_timeout,
        )
        gateway = spawned or self._spawn_gateway()
        gateway.send_spec(spec)
        gateway.wait_ready(self._config.timeout_ready)
        return gateway

    def to_kubernetes_yaml(
        self, output_base_path: str | Path, k8s_namespace: str | None = None, *, image: str = DEFAULT_IMAGE
    ) -> list[Path]:
        """Writes Kubernetes manifests for this Flow: a Deployment and a Service per executor and the gateway.

        Executors' Services are headless and the gateway balances over their replicas itself (no mesh
        needed); containers run ``image`` (see the repository's Dockerfile) and are probed over gRPC health.

        Args:
            output_base_path: the directory to write ``gateway.yml`` and ``<executor>.yml`` into.
            k8s_namespace: the namespace of every object (default ``"default"``).
            image: the image the containers run.

        Returns:
            The files written.
        """
        manifests = kubernetes_manifests(
            self._config, self._executors, namespace=k8s_namespace or "default", image=image, base=self._export_base()
        )
        return write_kubernetes_manifests(manifests, output_base_path)

    def to_docker_compose_yaml(self, output_path: str | Path, *, image: str = DEFAULT_IMAGE) -> Path:
        """Writes a docker compose file for this Flow (one service per executor and the gateway); returns its path."""
        content = compose_file(self._config, self._executors, image=image, base=self._export_base())
        return write_compose_file(content, output_path)

    def _export_base(self) -> Path:
        return self._base_dir or Path.cwd()

    def restart_gateway(self) -> None:
        """Stops the gateway and starts a new one on the same port, in front of the same executors.

        The old gateway drains first: streams answer the requests it took in, and
        clients with retries re-send the rest to the new one. (A rolling restart; tests
        use it to check that nothing is lost or run twice.)

        Raises:
            RuntimeError: the Flow is not started.
            StartupError: the new gateway did not become ready.
        """
        if self._gateway is None or self._gateway.port is None:
            raise RuntimeError("start the Flow first: `with flow:` or `flow.start()`")
        ports = tuple(self._gateway.ports[name] for name in self._config.protocols)
        self._gateway.stop()
        self._gateway = None
        self._start_gateway(ports)

    def _start_executors(self) -> list[ExecutorNode]:
        started: list[tuple[ExecutorConfig, list[list[ServiceProcess]]]] = []
        for config in self._executors:
            shards = [
                [self._start_replica(config, shard, replica) for replica in range(config.replicas)]
                for shard in range(0 if config.external else config.shards)
            ]
            started.append((config, shards))
        nodes = []
        for config, shards in started:
            if config.external:
                nodes.append(ExecutorNode(config.name, (external_address(config),), topology=config.topology))
                continue
            host = reachable_host(config.host or EXECUTOR_HOST)
            addresses = tuple(
                tuple(dial_address(host, p.wait_ready(self._config.timeout_ready)) for p in replicas)
                for replicas in shards
            )
            flat = tuple(address for shard in addresses for address in shard)
            grouped = addresses if config.shards > 1 else ()
            nodes.append(ExecutorNode(config.name, flat, topology=config.topology, shard_addresses=grouped))
        return nodes

    def _start_preloader(self) -> Preloader | None:
        """The interpreter that forks the replicas (none when every executor is external or has its own ``env``)."""
        if Preloader.supported() and any(not config.external and not config.env for config in self._executors):
            return Preloader()
        return None

    def _start_replica(self, config: ExecutorConfig, shard: int, replica: int) -> ServiceProcess:
        spec = WorkerSpec(
            uses=config.uses,
            uses_with=dict(config.uses_with),
            py_modules=config.py_modules,
            name=config.name,
            replica_id=replica,
            shard_id=shard,
            host=config.host or EXECUTOR_HOST,
            port=config.port + shard * config.replicas + replica if config.port else 0,
            workspace=config.workspace,
            max_message_bytes=self._config.max_message_bytes,
            error_details=self._config.error_details,
            max_concurrency=config.max_concurrency,
            uses_dynamic_batching=dict(config.uses_dynamic_batching),
            observability=replica_observability(self._config, config, shard * config.replicas + replica),
        )
        where = f"shard-{shard} rep-{replica}" if config.shards > 1 else f"rep-{replica}"
        # Replicas are forked from one preloaded interpreter, unless their environment differs from
        # ours (variables libraries read when imported must be set before the imports).
        preloader = None if config.env else self._preloader
        label = f"executor {config.name!r} {where}"
        process = ServiceProcess(label, "docwire.runtime.worker", spec, env=config.env, preloader=preloader)
        self._processes.append(process)
        self._replica_names.append((config.name, shard * config.replicas + replica))
        process.start()
        return process

    def close(self) -> None:
        """Stops the client, the gateway and every executor process (idempotent)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._supervisor is not None:
            self._supervisor.stop()  # first: the exits that follow are not crashes
            self._supervisor = None
        if self._gateway is not None:
            self._gateway.stop()  # first: it stops taking requests and answers those it holds
        for process in self._processes:
            process.terminate()  # all at once, so their executors' close() run side by side
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self._processes:
            process.stop(timeout=max(deadline - time.monotonic(), 0.1))
        if self._preloader is not None:
            self._preloader.close()
            self._preloader = None
        self._gateway = None
        self._processes = []
        self._replica_names = []
        self._nodes = []

    def __enter__(self) -> Flow:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def client(self) -> Client:
        """A client connected to this Flow's gateway (created once, closed with the Flow).

        Over TLS it trusts the certificate in ``ssl_certfile`` itself as the anchor (no CA file is
        needed), so that certificate must name ``.host`` (``IP:127.0.0.1`` unless ``host`` is given).
        """
        if self._gateway is None:
            raise RuntimeError("start the Flow first: `with flow:` or `flow.start()`")
        if self._client is None:
            from docwire_client import Client  # noqa: PLC0415  (the SDK is optional for serving)

            # gRPC when served (the fastest), else the socket, else HTTP/JSON.
            protocol = next(p for p in ("grpc", "websocket", "http") if p in self.ports)
            if self._config.ssl_certfile is None:
                self._client = Client(host=self.host, port=self.ports[protocol], protocol=protocol)
            else:
                trusted = Path(self._config.ssl_certfile).read_bytes()
                self._client = Client(
                    host=self.host, port=self.ports[protocol], protocol=protocol, tls=True, root_certificates=trusted
                )
        return self._client

    def post(self, on: str, inputs: Any = None, **kwargs: Any) -> Any:
        """Sends documents through the Flow: ``Client.post`` on this Flow's gateway."""
        return self.client().post(on, inputs, **kwargs)

    def is_flow_ready(self, timeout: float = 5.0) -> bool:
        """Whether every executor of the Flow answers (a dry run through the gateway)."""
        return self._gateway is not None and self.client().is_flow_ready(timeout=timeout)

    def block(self, stop_event: threading.Event | None = None) -> None:
        """Serves until Ctrl-C, SIGTERM, or ``stop_event`` is set."""
        event = stop_event or threading.Event()
        restore: Callable[[int, FrameType | None], Any] | int | None = None
        if threading.current_thread() is threading.main_thread():
            restore = signal.signal(signal.SIGTERM, lambda *_: event.set())
        try:
            while not event.wait(0.5):
                if self._gateway is not None and not self._gateway.alive():
                    raise StartupError("the gateway process exited")
        except KeyboardInterrupt:
            pass
        finally:
            if restore is not None:
                signal.signal(signal.SIGTERM, restore)
