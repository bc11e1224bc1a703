"""Flow: executors chained behind one gateway, started and stopped as processes."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from docwire.executor.base import Executor
from docwire.gateway.router import ExecutorNode
from docwire.gateway.spec import GatewaySpec
from docwire.orchestration.banner import print_ready_banner
from docwire.orchestration.config import ExecutorConfig, FlowConfig, load_flow_yaml
from docwire.orchestration.process import ServiceProcess, StartupError
from docwire.runtime.spec import WorkerSpec

if TYPE_CHECKING:
    from docwire_client import Client

__all__ = ["Flow"]

#: Executors listen on loopback: only their gateway talks to them.
EXECUTOR_HOST = "127.0.0.1"


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
    ) -> None:
        settings: dict[str, Any] = {"port": port or 0, "host": host, "protocol": protocol, "prefetch": prefetch}
        if max_message_size is not None:
            settings["max_message_bytes"] = max_message_size
        self._config = FlowConfig(
            **settings,
            timeout_ready=timeout_ready,
            ssl_certfile=None if ssl_certfile is None else str(ssl_certfile),
            ssl_keyfile=None if ssl_keyfile is None else str(ssl_keyfile),
            cors=cors,
        )
        self._executors: list[ExecutorConfig] = []
        self._processes: list[ServiceProcess] = []
        self._gateway: ServiceProcess | None = None
        self._nodes: list[ExecutorNode] = []
        self._client: Client | None = None
        self._base_dir: Path | None = None

    @classmethod
    def load_config(cls, path: str | Path) -> Flow:
        """Builds a Flow from a YAML file (see ``docwire.orchestration.config``)."""
        config, executors = load_flow_yaml(path)
        flow = cls()
        flow._config = config
        flow._executors = executors
        return flow

    @classmethod
    def from_config(cls, config: FlowConfig, executors: Sequence[ExecutorConfig]) -> Flow:
        """Builds a Flow from its model."""
        flow = cls()
        flow._config = config
        flow._executors = list(executors)
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
        max_concurrency: int | None = None,
        uses_dynamic_batching: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Flow:
        """Appends an executor to the chain and returns the Flow (so calls chain).

        Args:
            uses: an Executor subclass, ``"module.Class"``, an executor YAML file, or None (pass-through).
            name: its name (default ``executor<i>``); must be unique in the Flow.
            replicas: how many processes serve it.
            uses_with: keyword arguments for its constructor.
            py_modules: Python files to import before resolving ``uses``.
            workspace: a directory it may write to.
            max_concurrency: the most requests each replica runs in its methods at once; the others wait
                in arrival order (default: no bound).
            uses_dynamic_batching: ``{"/endpoint": {"preferred_batch_size": 8, "timeout": 10}}``: group
                requests to an endpoint into one call (timeout in ms; see ``dynamic_batching``).
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
            max_concurrency=max_concurrency,
            uses_dynamic_batching=dict(uses_dynamic_batching or {}),
        )
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
            self._nodes = self._start_executors()
            self._gateway = self._start_gateway(self._config.ports)
        except BaseException:
            self.close()
            raise
        others = {name: port for name, port in self.ports.items() if name != self.protocol}
        print_ready_banner(
            type(self).__name__, self.protocol, self._config.host, self.port or 0, others, tls=self._config.tls
        )
        return self

    def _start_gateway(self, ports: tuple[int, ...]) -> ServiceProcess:
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
        )
        gateway = ServiceProcess("gateway", "docwire.gateway.app", spec)
        self._gateway = gateway  # stopped by close() even if it never gets ready
        gateway.start()
        gateway.wait_ready(self._config.timeout_ready)
        return gateway

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
        started: list[tuple[ExecutorConfig, list[ServiceProcess]]] = []
        for config in self._executors:
            replicas = []
            for replica in range(config.replicas):
                spec = WorkerSpec(
                    uses=config.uses,
                    uses_with=dict(config.uses_with),
                    py_modules=config.py_modules,
                    name=config.name,
                    replica_id=replica,
                    host=EXECUTOR_HOST,
                    workspace=config.workspace,
                    max_message_bytes=self._config.max_message_bytes,
                    max_concurrency=config.max_concurrency,
                    uses_dynamic_batching=dict(config.uses_dynamic_batching),
                )
                process = ServiceProcess(f"executor {config.name!r} rep-{replica}", "docwire.runtime.worker", spec)
                self._processes.append(process)
                process.start()
                replicas.append(process)
            started.append((config, replicas))
        nodes = []
        for config, replicas in started:
            ports = [p.wait_ready(self._config.timeout_ready) for p in replicas]
            nodes.append(ExecutorNode(config.name, tuple(f"{EXECUTOR_HOST}:{port}" for port in ports)))
        return nodes

    def close(self) -> None:
        """Stops the client, the gateway and every executor process (idempotent)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        for process in [*([self._gateway] if self._gateway else []), *self._processes]:
            process.stop()
        self._gateway = None
        self._processes = []
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
