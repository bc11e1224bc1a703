"""Kubernetes manifests for a Flow: a Deployment and a Service per executor and for the gateway.

Executors get a headless Service (``clusterIP: None``): its DNS name answers with every ready pod, and
the gateway's channel balances over them round-robin (``docwire.gateway.balancing``), so replicas share
the load with no service mesh. Every container is probed by Kubernetes' own gRPC probe on the
``grpc.health.v1`` service the servers expose. ``kubectl apply -f <dir>`` applies the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from docwire.orchestration.config import ExecutorConfig, FlowConfig
from docwire.orchestration.export_plan import ServicePlan, plan_services

__all__ = ["DEFAULT_IMAGE", "DEFAULT_RESOURCES", "kubernetes_manifests", "write_kubernetes_manifests"]

#: The image the manifests run (the repository's Dockerfile builds it: ``docker build -t docwire:0.1.0 .``).
DEFAULT_IMAGE: Final = "docwire:0.1.0"
#: What each container asks for and may use, unless told otherwise.
DEFAULT_RESOURCES: Final[Mapping[str, Mapping[str, str]]] = {
    "requests": {"cpu": "250m", "memory": "256Mi"},
    "limits": {"memory": "2Gi"},
}
#: The DNS suffix of Services in a cluster with the default domain.
CLUSTER_DOMAIN: Final = "svc.cluster.local"
#: The Secret the gateway's auth tokens come from (``kubectl create secret generic docwire-auth
#: --from-literal=DOCWIRE_AUTH_TOKENS=token1,token2``): the manifests never hold them.
SECRET: Final = "docwire-auth"
#: The image's non-root user (the Dockerfile's ``USER``).
IMAGE_UID: Final = 10001


def kubernetes_manifests(
    flow: FlowConfig,
    executors: Sequence[ExecutorConfig],
    *,
    namespace: str = "default",
    image: str = DEFAULT_IMAGE,
    resources: Mapping[str, Mapping[str, str]] = DEFAULT_RESOURCES,
    base: Path | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """File name -> the objects it holds (a Deployment and a Service), the gateway's first.

    Args:
        flow: the Flow's settings.
        executors: its executors, in chain order.
        namespace: the namespace every object goes in (it must exist: ``kubectl create namespace``).
        image: the image every container runs.
        resources: each container's resource requests and limits.
        base: the folder the image's working directory mirrors (py_modules under it are given relative).

    Raises:
        ValueError: see ``plan_services``.
    """
    plans = plan_services(flow, executors, lambda name: f"{name}.{namespace}.{CLUSTER_DOMAIN}", base=base)
    return {
        f"{plan.name}.yml": [
            _deployment(plan, namespace, image, resources),
            _service(plan, namespace),
        ]
        for plan in plans
    }


def write_kubernetes_manifests(manifests: Mapping[str, list[dict[str, Any]]], directory: str | Path) -> list[Path]:
    """Writes each file of ``kubernetes_manifests`` into ``directory`` (created); returns the paths."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, objects in manifests.items():
        path = folder / name
        path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        written.append(path)
    return written


def _labels(plan: ServicePlan) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": plan.name,
        "app.kubernetes.io/component": plan.role,
        "app.kubernetes.io/part-of": "docwire",
    }


def _probe(plan: ServicePlan, **timing: int) -> dict[str, Any]:
    # A gateway serving HTTP or WebSocket only has no gRPC health service: then the port must accept.
    port = plan.grpc_port
    check: dict[str, Any] = (
        {"grpc": {"port": port}} if port is not None else {"tcpSocket": {"port": next(iter(plan.ports.values()))}}
    )
    return {**check, **timing}


def _deployment(
    plan: ServicePlan, namespace: str, image: str, resources: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": plan.role,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": list(plan.arguments),
        "ports": [{"name": protocol[:15], "containerPort": port} for protocol, port in plan.ports.items()],
    }
    env: list[dict[str, Any]] = [{"name": key, "value": value} for key, value in plan.env.items()]
    env += [{"name": key, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key}}} for key in plan.secret_env]
    if env:
        container["env"] = env
    container |= {
        # Loading a model may take minutes: the startup probe allows it, then liveness takes over.
        "startupProbe": _probe(plan, periodSeconds=2, failureThreshold=150),
        "readinessProbe": _probe(plan, periodSeconds=5),
        "livenessProbe": _probe(plan, periodSeconds=10, failureThreshold=3),
        "resources": {kind: dict(amounts) for kind, amounts in resources.items()},
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": IMAGE_UID},
    }
    labels = _labels(plan)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": plan.name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": plan.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": plan.name}},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}},
        },
    }


def _service(plan: ServicePlan, namespace: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"app.kubernetes.io/name": plan.name},
        "ports": [
            {"name": protocol[:15], "port": port, "targetPort": port, "protocol": "TCP"}
            for protocol, port in plan.ports.items()
        ],
    }
    if plan.role == "executor":
        spec = {"clusterIP": "None", **spec}  # headless: DNS answers with every ready replica
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": plan.name, "namespace": namespace, "labels": _labels(plan)},
        "spec": spec,
    }
