"""A real OTLP/gRPC trace receiver for tests: a grpc server on 127.0.0.1:0 that keeps every span it is sent.

Built with the ``opentelemetry-proto`` classes the OTLP exporter itself uses (an OpenTelemetry
Collector build was not worth its minutes here): the Flow's processes export to it over the
network exactly as they would to a collector.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2


@dataclass(frozen=True, slots=True)
class ReceivedSpan:
    """One span as the receiver got it: ids in hex, attributes as Python values."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, object]
    status_code: int


def _value(value: common_pb2.AnyValue) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.arrived = threading.Condition()

    def Export(  # noqa: N802  (the generated servicer's name)
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        received: list[ReceivedSpan] = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                received.extend(
                    ReceivedSpan(
                        service=str(resource.get("service.name")),
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        kind=span.kind,
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        status_code=span.status.code,
                    )
                    for span in scope_spans.spans
                )
        with self.arrived:
            self.spans.extend(received)
            self.arrived.notify_all()
        return trace_service_pb2.ExportTraceServiceResponse()


@dataclass(frozen=True, slots=True)
class OtlpReceiver:
    """The running receiver: its port, and a way to wait for spans."""

    port: int
    _service: _TraceService

    def wait_for(self, found: Callable[[list[ReceivedSpan]], bool], timeout: float = 30.0) -> list[ReceivedSpan]:
        """Every span received, once ``found`` says they are enough (or ``timeout`` passed: then as they are)."""
        with self._service.arrived:
            self._service.arrived.wait_for(lambda: found(list(self._service.spans)), timeout=timeout)
            return list(self._service.spans)


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """Serves an OTLP/gRPC trace receiver on 127.0.0.1 (OS-chosen port) until the block ends."""
    service = _TraceService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(service, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield OtlpReceiver(port, service)
    finally:
        server.stop(grace=None)
