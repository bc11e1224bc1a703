"""The observers in-process: spans through the SDK's InMemorySpanExporter, metrics from a registry, the doc count.

Also: nothing of Prometheus or OpenTelemetry is imported by a server process that observes nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from docwire.observability.doc_count import count_docs, count_serialized_docs
from docwire.observability.executor import ObservedExecutor
from docwire.observability.gateway import ObservedGateway
from docwire.observability.launch import start_executor_observer, start_gateway_observer
from docwire.observability.metrics import ExecutorMetrics, GatewayMetrics
from docwire.observability.otlp_encoding import OtlpSpanExporter, encode_records
from docwire.observability.span_record import Attributes, SpanRecord, SpanScope, TraceContext, readable_span
from docwire.observability.spec import ObservabilitySpec
from docwire.observability.tracing import RecordBatcher, SpanRecorder, tracer_provider
from docwire.orchestration.config import ExecutorConfig, FlowConfig, load_flow_yaml
from docwire.orchestration.observing import gateway_observability, replica_observability
from docwire_contract.errors import EndpointNotFound
from docwire_contract.v1 import document_pb2, request_pb2

ROOT = Path(__file__).resolve().parents[2]


def _request(n: int, *, serialized: bool = True, endpoint: str = "/index") -> request_pb2.DataRequest:
    docs = document_pb2.DocList(docs=[document_pb2.Doc() for _ in range(n)])
    for i, doc in enumerate(docs.docs):
        doc.data["id"].text = "x" * (i * 40)  # lengths past one varint byte
    request = request_pb2.DataRequest()
    request.header.request_id, request.header.exec_endpoint = "req-1", endpoint
    if serialized:
        request.data.docs_bytes = docs.SerializeToString()
    else:
        request.data.docs.CopyFrom(docs)
    return request


@pytest.mark.parametrize("serialized", [True, False])
@pytest.mark.parametrize("n", [0, 1, 7])
def test_documents_are_counted_without_decoding(n: int, serialized: bool) -> None:
    request = _request(n, serialized=serialized)
    assert count_docs(request) == n
    # The gateway counts them in the request's bytes, parsing neither the request nor its data.
    assert count_serialized_docs(request.SerializeToString()) == n


@pytest.mark.parametrize("n", [1, 3, 100])
def test_documents_of_one_size_are_counted_by_stride(n: int) -> None:
    docs = document_pb2.DocList(docs=[document_pb2.Doc() for _ in range(n)])
    for doc in docs.docs:
        doc.data["embedding"].text = "e" * 3000  # a length of two varint bytes
    request = request_pb2.DataRequest()
    request.data.docs_bytes = docs.SerializeToString()
    assert count_docs(request) == n
    request.data.docs_bytes += docs.docs[0].SerializeToString()[:7]  # not a DocList past the last document
    assert count_docs(request) == n


def test_a_request_without_documents_counts_none() -> None:
    assert count_docs(request_pb2.DataRequest()) == 0
    assert count_serialized_docs(b"") == 0
    assert count_serialized_docs(_request(0).header.SerializeToString()) == 0  # fields, none of them data


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }


async def test_the_gateway_span_parents_the_executor_span_through_traceparent(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    client_trace, client_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    gateway = ObservedGateway(None, provider)
    executor = ObservedExecutor("encoder", 1, None, provider)
    request = _request(3)
    client_metadata = (("authorization", "Bearer x"), ("traceparent", f"00-{client_trace}-{client_span}-01"))

    seen = gateway.request(request, client_metadata)
    sent = dict(seen.metadata)
    assert sent["authorization"] == "Bearer x"
    assert sent["traceparent"] != client_metadata[1][1]

    async def serve() -> bytes:
        return b"reply"

    assert await executor.observe(request, seen.metadata, serve) == b"reply"
    seen.executor_replied("encoder", request_pb2.Status.CODE_SUCCESS)
    assert seen.succeeded(b"reply") == b"reply"
    seen.finish()

    executor_span, gateway_span = exporter.get_finished_spans()
    assert gateway_span.name == "gateway /index"
    assert gateway_span.kind == SpanKind.SERVER
    assert gateway_span.context is not None
    assert gateway_span.parent is not None
    assert (format(gateway_span.context.trace_id, "032x"), format(gateway_span.parent.span_id, "016x")) == (
        client_trace,
        client_span,
    )
    assert dict(gateway_span.attributes or {}) == {
        "docwire.endpoint": "/index",
        "docwire.request_id": "req-1",
        "docwire.status": "SUCCESS",
    }
    assert executor_span.name == "encoder /index"
    assert executor_span.parent is not None
    assert executor_span.context is not None
    assert executor_span.parent.span_id == gateway_span.context.span_id
    assert executor_span.context.trace_id == gateway_span.context.trace_id
    assert sent["traceparent"] == f"00-{client_trace}-{format(gateway_span.context.span_id, '016x')}-01"
    assert dict(executor_span.attributes or {}) == {
        "docwire.executor": "encoder",
        "docwire.replica": "1",
        "docwire.endpoint": "/index",
        "docwire.request_id": "req-1",
        "docwire.documents": 3,
        "docwire.status": "SUCCESS",
    }


async def test_a_sampled_out_request_sends_its_decision_on_and_records_no_span() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    gateway = ObservedGateway(None, provider)
    executor = ObservedExecutor("encoder", 0, None, provider)
    request = _request(1)
    seen = gateway.request(request, ())
    flags = int(dict(seen.metadata)["traceparent"].rpartition("-")[2], 16)
    assert flags & 1 == 0  # the sampled flag is off: executors follow

    async def serve() -> bytes:
        return b""

    await executor.observe(request, seen.metadata, serve)
    seen.succeeded(b"")
    seen.finish()
    assert exporter.get_finished_spans() == ()
    provider.shutdown()


async def test_an_executor_error_in_the_reply_is_recorded_with_its_class(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    registry = CollectorRegistry()
    executor = ObservedExecutor("encoder", 0, ExecutorMetrics.register(registry, "encoder", 0), provider)
    request = _request(2)

    async def fail() -> bytes:  # what the servicer does when the endpoint raises: the error goes in the reply
        request.header.status.code = request_pb2.Status.CODE_ERROR
        request.header.status.exception.name = "ValueError"
        return b""

    await executor.observe(request, (), fail)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.parent is None
    samples = _samples(registry)
    labels = (("endpoint", "/index"), ("executor", "encoder"), ("replica", "0"))
    assert samples[("docwire_executor_requests_total", (*labels, ("status", "ERROR")))] == 1
    assert samples[("docwire_executor_errors_total", (*labels[:1], ("error", "ValueError"), *labels[1:]))] == 1
    assert samples[("docwire_executor_documents_total", labels)] == 2
    assert samples[("docwire_executor_request_duration_seconds_count", labels)] == 1
    assert samples[("docwire_executor_requests_in_flight", labels[1:])] == 0


def test_gateway_metrics_count_a_failed_and_a_cut_short_request() -> None:
    registry = CollectorRegistry()
    gateway = ObservedGateway(GatewayMetrics.register(registry), None)
    failed = gateway.request(_request(4, endpoint="/search"), ())
    failed.failed(EndpointNotFound("no /search"))
    failed.finish()
    cut = gateway.request(_request(1, endpoint="/search"), ())
    cut.finish()
    samples = _samples(registry)
    endpoint = ("endpoint", "/search")
    assert samples[("docwire_gateway_requests_total", (endpoint, ("status", "ERROR")))] == 1
    assert samples[("docwire_gateway_requests_total", (endpoint, ("status", "CANCELLED")))] == 1
    assert samples[("docwire_gateway_errors_total", (endpoint, ("error", "EndpointNotFound")))] == 1
    assert samples[("docwire_gateway_documents_total", (endpoint,))] == 5
    assert samples[("docwire_gateway_requests_in_flight", (endpoint,))] == 0


def test_nothing_is_started_when_nothing_is_observed() -> None:
    assert start_gateway_observer(None) is None
    assert start_executor_observer(ObservabilitySpec(service="x")) is None
    assert gateway_observability(FlowConfig()) is None
    assert replica_observability(FlowConfig(), ExecutorConfig(name="e"), 0) is None


def test_executors_inherit_the_flows_settings_unless_they_give_their_own() -> None:
    flow = FlowConfig(host="127.0.0.1", monitoring=True, tracing=True, traces_exporter_host="collector")
    inherited = replica_observability(flow, ExecutorConfig(name="e"), 1)
    assert inherited == ObservabilitySpec(
        service="e",
        replica=1,
        monitoring=True,
        host_monitoring="127.0.0.1",
        tracing=True,
        traces_exporter_host="collector",
    )
    own = ExecutorConfig(name="e", monitoring=True, port_monitoring=9100, tracing=False)
    spec = replica_observability(FlowConfig(), own, 2)
    assert spec is not None
    assert (spec.monitoring, spec.port_monitoring, spec.tracing) == (True, 9102, False)
    assert replica_observability(flow, ExecutorConfig(name="e", monitoring=False, tracing=False), 0) is None
    gateway = gateway_observability(flow)
    assert gateway is not None
    assert gateway.traces_endpoint == ("collector:4317", True)


def test_the_yaml_keys_reach_the_model(tmp_path: Path) -> None:
    flow_yml = tmp_path / "flow.yml"
    flow_yml.write_text(
        "jtype: Flow\n"
        "with: {monitoring: true, port_monitoring: 9090, tracing: true, traces_exporter_host: 'http://otel',"
        " traces_exporter_port: 4318}\n"
        "executors:\n"
        "  - {name: encoder, monitoring: false, port_monitoring: 9091, tracing: true}\n"
    )
    config, (encoder,) = load_flow_yaml(flow_yml)
    assert (config.monitoring, config.port_monitoring, config.tracing) == (True, 9090, True)
    assert (config.traces_exporter_host, config.traces_exporter_port) == ("http://otel", 4318)
    assert (encoder.monitoring, encoder.port_monitoring, encoder.tracing) == (False, 9091, True)


_OBSERVING_PACKAGES = ("prometheus_client", "opentelemetry")


def _module_level_imports(path: Path) -> set[str]:
    """What importing the module runs: imports at module level (in ``if``/``try`` too), not inside functions."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(ast.parse(path.read_text()).body)
    return found


def _module_path(name: str) -> Path | None:
    top = name.partition(".")[0]
    roots = {
        "docwire": ROOT / "server",
        "docwire_contract": ROOT / "sdk" / "python",
        "docwire_client": ROOT / "sdk" / "python",
    }
    if top not in roots:
        return None
    base = roots[top] / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@pytest.mark.parametrize("entry", ["docwire.gateway.app", "docwire.runtime.worker", "docwire.orchestration.flow"])
def test_a_process_that_observes_nothing_imports_neither_prometheus_nor_opentelemetry(entry: str) -> None:
    """Follows module-level imports from each process's entry point (``launch`` imports the observers in functions).

    The Flow's own process (``docwire.orchestration.flow``) only builds the specs.
    """
    seen: set[Path] = set()
    pending = [entry]
    reached: set[str] = set()
    while pending:
        name = pending.pop()
        path = _module_path(name)
        if path is None or path in seen:
            continue
        seen.add(path)
        for imported in _module_level_imports(path):
            reached.add(imported)
            pending.append(imported)
            package = imported.rpartition(".")[0]
            while package:  # importing a.b.c runs a and a.b first
                pending.append(package)
                package = package.rpartition(".")[0]
    assert len(seen) > 20  # the walk found the server's modules
    assert sorted(name for name in reached if name.startswith(_OBSERVING_PACKAGES)) == []


def _scope(service: str, name: str, resource: Resource | None = None) -> SpanScope:
    return SpanScope(resource or Resource.create({"service.name": service}), InstrumentationScope(name))


def test_docwire_span_records_encode_to_the_otlp_message_the_sdk_encoder_makes() -> None:
    gateway = _scope("gateway", "docwire.gateway")
    other_scope = _scope("", "docwire.other", gateway.resource)  # a second scope of the same resource
    executor = _scope("encoder", "docwire.executor")
    state = "vendor=x1,other=2"
    remote = TraceContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, sampled=True, trace_state=state)
    own = TraceContext(remote.trace_id, 0x1234, sampled=True, trace_state=remote.trace_state)
    attributes: Attributes = (("docwire.endpoint", "/"), ("docwire.documents", 3), ("docwire.empty", ""))
    records = [
        SpanRecord(gateway, "gateway /", own, remote.span_id, 10, 20, attributes, None),
        SpanRecord(executor, "encoder /", TraceContext(7, 8, sampled=True), 0, 30, 2**63, (), "ValueError: bad"),
        SpanRecord(gateway, "", TraceContext(9, 10, sampled=True), 11, 1, 2, (("k", "v" * 300),), ""),
        SpanRecord(other_scope, "x", TraceContext(12, 13, sampled=True), 0, 0, 1, (("big", 2**62), ("neg", -5)), None),
    ]
    readable = [readable_span(record) for record in records]
    assert ExportTraceServiceRequest.FromString(encode_records(records)) == encode_spans(readable)
    # An SDK span in a batch (here with an event) is encoded by the SDK, its message merged with the records'.
    with_event = ReadableSpan("e", context=readable[0].context, events=(Event("happened"),))
    translated = ExportTraceServiceRequest.FromString(
        OtlpSpanExporter(endpoint="127.0.0.1:9", insecure=True)._translate_data([*records, with_event])
    )
    expected = encode_spans(readable)
    expected.MergeFrom(encode_spans([with_event]))
    assert translated == expected


class _CapturingExporter(OtlpSpanExporter):
    """docwire's exporter, keeping each batch's request instead of sending it."""

    def __init__(self) -> None:
        super().__init__(endpoint="127.0.0.1:9", insecure=True)
        self.requests: list[ExportTraceServiceRequest] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.requests.append(ExportTraceServiceRequest.FromString(self._translate_data(spans)))
        return SpanExportResult.SUCCESS


async def test_the_spans_go_to_docwires_exporter_as_records_linked_through_traceparent() -> None:
    """The production path: ``tracer_provider`` batches ``SpanRecord`` tuples, the exporter encodes them."""
    exporters = _CapturingExporter(), _CapturingExporter()
    gateway_provider = tracer_provider("gateway", exporters[0])
    executor_provider = tracer_provider("encoder", exporters[1])
    assert isinstance(SpanRecorder(gateway_provider, "x")._batcher, RecordBatcher)
    gateway = ObservedGateway(None, gateway_provider)
    executor = ObservedExecutor("encoder", 0, None, executor_provider)
    client = ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    metadata = (("authorization", "Bearer x"), client, ("tracestate", "vendor=x1,other=2"))
    sent = []
    for _ in range(2):  # the same client metadata twice, as the requests of a client stream share it
        seen = gateway.request(_request(2), metadata)
        sent.append(dict(seen.metadata))

        async def serve() -> bytes:
            return b""

        await executor.observe(_request(2), seen.metadata, serve)
        seen.succeeded(b"")
        seen.finish()
    gateway.close()
    executor.close()
    gateways, executors = (
        [span for batch in exporter.requests for r in batch.resource_spans for s in r.scope_spans for span in s.spans]
        for exporter in exporters
    )
    assert {a.key: a.value.string_value for a in exporters[1].requests[0].resource_spans[0].resource.attributes}[
        "service.name"
    ] == "encoder"
    client_trace = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
    for headers, gateway_span, executor_span in zip(sent, gateways, executors, strict=True):
        assert headers["authorization"] == "Bearer x"
        assert headers["tracestate"] == "vendor=x1,other=2"
        assert headers["traceparent"] == f"00-{client_trace.hex()}-{gateway_span.span_id.hex()}-01"
        assert (gateway_span.trace_id, gateway_span.parent_span_id) == (client_trace, bytes.fromhex(client[1][36:52]))
        assert (executor_span.trace_id, executor_span.parent_span_id) == (client_trace, gateway_span.span_id)
        assert gateway_span.name == "gateway /index"
        assert executor_span.name == "encoder /index"
        assert gateway_span.trace_state == executor_span.trace_state == "vendor=x1,other=2"
        assert gateway_span.flags == executor_span.flags == 0x300  # a remote parent
        assert {a.key: a.value.int_value or a.value.string_value for a in executor_span.attributes} == {
            "docwire.executor": "encoder",
            "docwire.replica": "0",
            "docwire.endpoint": "/index",
            "docwire.request_id": "req-1",
            "docwire.documents": 2,
            "docwire.status": "SUCCESS",
        }
    assert sent[0]["traceparent"] != sent[1]["traceparent"]
