"""A docker compose file for a Flow: one service per executor (``deploy.replicas``) and the gateway.

Compose's DNS answers a service's name with the address of every replica, so the gateway's
``dns:///<service>:<port>`` channels balance over them as in Kubernetes (``docwire.gateway.balancing``).
Only the gateway publishes its ports. ``docker compose -f flow.compose.yml up``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from docwire.orchestration.config import ExecutorConfig, FlowConfig
from docwire.orchestration.export_plan import ServicePlan, plan_services
from docwire.orchestration.kubernetes import DEFAULT_IMAGE

__all__ = ["compose_file", "write_compose_file"]


def compose_file(
    flow: FlowConfig,
    executors: Sequence[ExecutorConfig],
    *,
    image: str = DEFAULT_IMAGE,
    base: Path | None = None,
) -> dict[str, Any]:
    """The compose file's content.

    Args:
        flow: the Flow's settings.
        executors: its executors, in chain order.
        image: the image every service runs.
        base: the folder the image's working directory mirrors (py_modules under it are given relative).

    Raises:
        ValueError: see ``plan_services``.
    """
    plans = plan_services(flow, executors, lambda name: name, base=base)
    executor_names = [plan.name for plan in plans if plan.role == "executor"]
    return {"services": {plan.name: _service(plan, image, executor_names) for plan in plans}}


def write_compose_file(content: dict[str, Any], path: str | Path) -> Path:
    """Writes ``compose_file``'s content as YAML; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(content, sort_keys=False))
    return target


def _service(plan: ServicePlan, image: str, executors: list[str]) -> dict[str, Any]:
    service: dict[str, Any] = {"image": image, "command": list(plan.arguments)}
    environment = {
        **plan.env,
        # Secrets come from the environment `docker compose up` runs in; the file never holds them.
        **{key: f"${{{key}:?set {key} for the gateway}}" for key in plan.secret_env},
    }
    if environment:
        service["environment"] = environment
    if plan.role == "gateway":
        service["ports"] = [f"{port}:{port}" for port in plan.ports.values()]
        if executors:
            service["depends_on"] = list(executors)
    else:
        service["expose"] = [str(port) for port in plan.ports.values()]
        service["deploy"] = {"replicas": plan.replicas}
    service["restart"] = "on-failure"
    return service
