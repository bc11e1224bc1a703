"""Deployment: one executor with its replicas, served behind a gateway (or on its own, for a Flow elsewhere)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from docwire.executor.base import Executor
from docwire.orchestration.flow import Flow

__all__ = ["Deployment"]


class Deployment(Flow):
    """One executor, served with ``replicas`` processes behind a gateway.

    Example::

        with Deployment(uses=MyExecutor, replicas=2) as dep:
            dep.post(on="/index", inputs=docs)

    With ``include_gateway=False`` it serves the executor alone, its replicas bound to ``host`` and
    ``port`` (replica ``i`` on ``port + i``), for a Flow on another machine to use with
    ``Flow().add(host=..., port=..., external=True)``; ``.executor_addresses`` says where.

    Args:
        uses: an Executor subclass, ``"module.Class"``, an executor YAML file, or None (pass-through).
        name: the executor's name.
        replicas: how many processes serve it.
        uses_with: keyword arguments for its constructor.
        py_modules: Python files to import before resolving ``uses``.
        workspace: a directory it may write to.
        shards: how many shards serve it, each with ``replicas`` processes (see ``Flow.add``).
        polling: ``"ANY"`` / ``"ALL"`` or per endpoint, for its shards (see ``Flow.add``).
        include_gateway: serve a gateway in front of it (default); without, ``host`` and ``port`` are
            the executor's own.
        max_concurrency: the most requests each replica runs in its methods at once (default: no bound).
        uses_dynamic_batching: endpoint -> batching policy, as for ``Flow.add``.
        **flow_settings: the gateway's settings, as for ``Flow`` (port, host, protocol, prefetch, ...).
    """

    def __init__(
        self,
        uses: type[Executor] | str | None = None,
        *,
        name: str = "executor",
        replicas: int = 1,
        uses_with: Mapping[str, Any] | None = None,
        py_modules: Sequence[str] = (),
        workspace: str | None = None,
        shards: int = 1,
        polling: str | Mapping[str, str] = "ANY",
        include_gateway: bool = True,
        max_concurrency: int | None = None,
        uses_dynamic_batching: Mapping[str, Mapping[str, Any]] | None = None,
        **flow_settings: Any,
    ) -> None:
        placement: dict[str, Any] = {}
        if not include_gateway:
            placement = {"host": flow_settings.pop("host", None), "port": flow_settings.pop("port", None) or 0}
        super().__init__(**flow_settings)
        self._include_gateway = include_gateway
        super().add(
            uses,
            name=name,
            replicas=replicas,
            uses_with=uses_with,
            py_modules=py_modules,
            workspace=workspace,
            shards=shards,
            polling=polling,
            max_concurrency=max_concurrency,
            uses_dynamic_batching=uses_dynamic_batching,
            **placement,
        )

    def add(self, *args: Any, **kwargs: Any) -> Flow:
        """A Deployment serves exactly one executor: use a Flow to chain several."""
        raise TypeError("a Deployment serves one executor; use Flow().add(...) to chain several")

    def start(self) -> Deployment:
        """Starts every replica (and the gateway, unless ``include_gateway=False``); returns once all are ready."""
        if self._include_gateway:
            super().start()
            return self
        if self._nodes:
            raise RuntimeError("the Deployment is already started")
        try:
            self._nodes = self._start_executors()
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> Deployment:
        return self.start()
