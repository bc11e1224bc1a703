"""Deployment: one executor with its replicas, served behind a gateway."""

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

    Args:
        uses: an Executor subclass, ``"module.Class"``, an executor YAML file, or None (pass-through).
        name: the executor's name.
        replicas: how many processes serve it.
        uses_with: keyword arguments for its constructor.
        py_modules: Python files to import before resolving ``uses``.
        workspace: a directory it may write to.
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
        max_concurrency: int | None = None,
        uses_dynamic_batching: Mapping[str, Mapping[str, Any]] | None = None,
        **flow_settings: Any,
    ) -> None:
        super().__init__(**flow_settings)
        super().add(
            uses,
            name=name,
            replicas=replicas,
            uses_with=uses_with,
            py_modules=py_modules,
            workspace=workspace,
            max_concurrency=max_concurrency,
            uses_dynamic_batching=uses_dynamic_batching,
        )

    def add(self, *args: Any, **kwargs: Any) -> Flow:
        """A Deployment serves exactly one executor: use a Flow to chain several."""
        raise TypeError("a Deployment serves one executor; use Flow().add(...) to chain several")
