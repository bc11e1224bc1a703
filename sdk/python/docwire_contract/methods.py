"""Full gRPC method paths of the contract, read from the generated descriptors."""

from __future__ import annotations

from docwire_contract.v1 import executor_pb2, gateway_pb2

__all__ = ["EXECUTOR_SERVICE", "GATEWAY_SERVICE", "ExecutorMethods", "GatewayMethods"]

GATEWAY_SERVICE = gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"].full_name
EXECUTOR_SERVICE = executor_pb2.DESCRIPTOR.services_by_name["ExecutorService"].full_name


def _path(service: str, method: str) -> str:
    return f"/{service}/{method}"


class GatewayMethods:
    """Paths of the GatewayService rpcs."""

    POST = _path(GATEWAY_SERVICE, "Post")
    STREAM = _path(GATEWAY_SERVICE, "Stream")
    STREAM_DOC = _path(GATEWAY_SERVICE, "StreamDoc")
    DRY_RUN = _path(GATEWAY_SERVICE, "DryRun")
    STATUS = _path(GATEWAY_SERVICE, "Status")
    ENDPOINTS = _path(GATEWAY_SERVICE, "Endpoints")


class ExecutorMethods:
    """Paths of the ExecutorService rpcs."""

    PROCESS = _path(EXECUTOR_SERVICE, "Process")
    PROCESS_STREAM = _path(EXECUTOR_SERVICE, "ProcessStream")
    STREAM_DOC = _path(EXECUTOR_SERVICE, "StreamDoc")
    ENDPOINTS = _path(EXECUTOR_SERVICE, "Endpoints")
