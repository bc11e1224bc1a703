"""Metrics and traces of a real Flow: scraped over HTTP from each monitoring port, received by a real OTLP receiver.

One Flow (an appender with two replicas, then ``Faulty``) with ``monitoring=True`` and
``tracing=True``. Metrics are compared before and after known calls (the Flow is shared);
spans are told apart by the trace id the client sends in its ``traceparent``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from functools import partial

import httpx
import pytest
from executors import Appender, Faulty, TextDoc
from otlp_receiver import OtlpReceiver, ReceivedSpan, otlp_receiver
from prometheus_client.parser import text_string_to_metric_families

from docwire import Client, DocList, ExecutorError, Flow

#: A sample's name and labels (sorted) -> its value.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
_SERVER = 2  # OTLP's SPAN_KIND_SERVER
_STATUS_ERROR = 2  # OTLP's STATUS_CODE_ERROR


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def observed(receiver: OtlpReceiver) -> Iterator[Flow]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")  # the processes send spans every 50 ms, not every 5 s
        flow = (
            Flow(host="127.0.0.1", monitoring=True, tracing=True, traces_exporter_port=receiver.port)
            .add(uses=Appender, name="first", replicas=2)
            .add(uses=Faulty, name="faulty")
        )
        with flow:
            yield flow


def scrape(port: int) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").raise_for_status().text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape_all(flow: Flow) -> dict[str, Samples]:
    return {name: scrape(port) for name, port in flow.monitoring_ports.items()}


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much the sample ``name`` with ``labels`` grew (replica labels summed over when left out)."""

    def total(samples: Samples) -> float:
        return sum(
            value for (sample, have), value in samples.items() if sample == name and set(labels.items()) <= set(have)
        )

    return total(after) - total(before)


def texts(n: int) -> DocList[TextDoc]:
    return DocList[TextDoc]([TextDoc(text=f"t{i}") for i in range(n)])


@pytest.fixture(scope="module")
def observed_graph() -> Iterator[Flow]:
    """Two branches from the gateway, merged: a graph Flow, monitored."""
    flow = (
        Flow(host="127.0.0.1", monitoring=True)
        .add(uses=Appender, name="left", needs="gateway")
        .add(uses=Faulty, name="right", needs="gateway")
    )
    with flow:
        yield flow


def test_a_graph_times_each_executor_call_and_counts_a_branch_failure(observed_graph: Flow) -> None:
    before = scrape(observed_graph.monitoring_ports["gateway"])
    with Client(host="127.0.0.1", port=observed_graph.port) as client:
        client.post("/ok", texts(5), request_size=2)  # 3 requests
        with pytest.raises(ExecutorError):
            client.post("/fail", texts(1))
    after = scrape(observed_graph.monitoring_ports["gateway"])
    gateway = partial(delta, before, after)
    calls = "docwire_gateway_executor_call_duration_seconds_count"
    grew = {
        "ok": gateway("docwire_gateway_requests_total", endpoint="/ok", status="SUCCESS"),
        "ok left": gateway(calls, endpoint="/ok", executor="left"),
        "ok right": gateway(calls, endpoint="/ok", executor="right"),
        "fail": gateway("docwire_gateway_requests_total", endpoint="/fail", status="ERROR"),
        "fail errors": gateway("docwire_gateway_errors_total", endpoint="/fail", error="ExecutorError"),
        "fail right": gateway(calls, endpoint="/fail", executor="right"),
    }
    assert grew == {"ok": 3, "ok left": 3, "ok right": 3, "fail": 1, "fail errors": 1, "fail right": 1}
    assert gateway("docwire_gateway_executor_call_duration_seconds_sum", endpoint="/ok", executor="left") > 0


def test_every_process_serves_its_metrics_on_its_own_port(observed: Flow) -> None:
    ports = observed.monitoring_ports
    assert set(ports) == {"gateway", "first/rep-0", "first/rep-1", "faulty/rep-0"}
    assert observed.port_monitoring == ports["gateway"]
    assert len(set(ports.values())) == 4
    assert observed.port not in ports.values()


def test_metrics_count_requests_documents_errors_and_latencies(observed: Flow) -> None:
    before = scrape_all(observed)
    with Client(host="127.0.0.1", port=observed.port) as client:
        client.post("/ok", texts(5), request_size=2)  # 3 requests
        with pytest.raises(ExecutorError):
            client.post("/fail", texts(1))
    after = scrape_all(observed)
    gateway = partial(delta, before["gateway"], after["gateway"])
    grew = {
        "ok": gateway("docwire_gateway_requests_total", endpoint="/ok", status="SUCCESS"),
        "ok docs": gateway("docwire_gateway_documents_total", endpoint="/ok"),
        "ok timed": gateway("docwire_gateway_request_duration_seconds_count", endpoint="/ok"),
        "ok first": gateway("docwire_gateway_executor_call_duration_seconds_count", endpoint="/ok", executor="first"),
        "ok faulty": gateway("docwire_gateway_executor_call_duration_seconds_count", endpoint="/ok", executor="faulty"),
        "fail": gateway("docwire_gateway_requests_total", endpoint="/fail", status="ERROR"),
        "fail errors": gateway("docwire_gateway_errors_total", endpoint="/fail", error="ExecutorError"),
    }
    assert grew == {"ok": 3, "ok docs": 5, "ok timed": 3, "ok first": 3, "ok faulty": 3, "fail": 1, "fail errors": 1}
    assert after["gateway"][("docwire_gateway_requests_in_flight", (("endpoint", "/ok"),))] == 0
    assert gateway("docwire_gateway_request_duration_seconds_sum", endpoint="/ok") > 0

    first = [partial(delta, before[f"first/rep-{i}"], after[f"first/rep-{i}"]) for i in range(2)]
    assert sum(replica("docwire_executor_requests_total", endpoint="/ok", status="SUCCESS") for replica in first) == 3
    assert sum(replica("docwire_executor_documents_total", endpoint="/ok") for replica in first) == 5
    assert all(replica("docwire_executor_requests_total", endpoint="/ok") >= 1 for replica in first)  # round-robin
    faulty = partial(delta, before["faulty/rep-0"], after["faulty/rep-0"])
    executor_grew = {
        "ok": faulty("docwire_executor_requests_total", endpoint="/ok", status="SUCCESS"),
        "ok docs": faulty("docwire_executor_documents_total", endpoint="/ok"),
        "ok timed": faulty("docwire_executor_request_duration_seconds_count", endpoint="/ok"),
        "fail": faulty("docwire_executor_requests_total", endpoint="/fail", status="ERROR"),
        "fail errors": faulty("docwire_executor_errors_total", endpoint="/fail", error="NotImplementedError"),
    }
    assert executor_grew == {"ok": 3, "ok docs": 5, "ok timed": 3, "fail": 1, "fail errors": 1}
    in_flight = ("docwire_executor_requests_in_flight", (("executor", "faulty"), ("replica", "0")))
    assert after["faulty/rep-0"][in_flight] == 0


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def _of_trace(trace_id: str, count: int) -> Callable[[list[ReceivedSpan]], bool]:
    return lambda spans: sum(span.trace_id == trace_id for span in spans) >= count


def test_a_span_per_request_at_the_gateway_and_one_per_executor_call_below_it(
    observed: Flow, receiver: OtlpReceiver
) -> None:
    traceparent, trace_id, client_span = _traceparent()
    with Client(host="127.0.0.1", port=observed.port) as client:
        responses = client.post(
            "/ok", texts(2), request_size=1, return_responses=True, metadata={"traceparent": traceparent}
        )
    request_ids = sorted(response.header.request_id for response in responses)
    spans = [s for s in receiver.wait_for(_of_trace(trace_id, 6)) if s.trace_id == trace_id]
    gateway = sorted(
        (s for s in spans if s.service == "gateway"), key=lambda s: str(s.attributes["docwire.request_id"])
    )
    assert [(s.name, s.parent_span_id, s.kind) for s in gateway] == [("gateway /ok", client_span, _SERVER)] * 2
    assert [s.attributes for s in gateway] == [
        {"docwire.endpoint": "/ok", "docwire.request_id": request_id, "docwire.status": "SUCCESS"}
        for request_id in request_ids
    ]
    for parent in gateway:
        children = sorted((s for s in spans if s.parent_span_id == parent.span_id), key=lambda s: s.service)
        assert [(s.service, s.name, s.kind) for s in children] == [
            ("faulty", "faulty /ok", _SERVER),
            ("first", "first /ok", _SERVER),
        ]
        assert {s.attributes["docwire.request_id"] for s in children} == {parent.attributes["docwire.request_id"]}
        assert [(s.attributes["docwire.status"], s.attributes["docwire.documents"]) for s in children] == [
            ("SUCCESS", 1),
            ("SUCCESS", 1),
        ]
    assert len(spans) == 6


def test_a_failed_request_ends_its_spans_with_an_error(observed: Flow, receiver: OtlpReceiver) -> None:
    traceparent, trace_id, _ = _traceparent()
    with Client(host="127.0.0.1", port=observed.port) as client, pytest.raises(ExecutorError):
        client.post("/fail", texts(1), metadata={"traceparent": traceparent})
    spans = {s.service: s for s in receiver.wait_for(_of_trace(trace_id, 3)) if s.trace_id == trace_id}
    assert {name: (s.attributes["docwire.status"], s.status_code) for name, s in spans.items()} == {
        "gateway": ("ERROR", _STATUS_ERROR),
        "first": ("SUCCESS", 0),
        "faulty": ("ERROR", _STATUS_ERROR),
    }


def test_without_a_client_traceparent_the_gateway_span_starts_the_trace(observed: Flow, receiver: OtlpReceiver) -> None:
    with Client(host="127.0.0.1", port=observed.port) as client:
        (response,) = client.post("/untraced-by-client", texts(1), return_responses=True)
    request_id = response.header.request_id

    def found(spans: list[ReceivedSpan]) -> bool:
        ours = [s for s in spans if s.attributes.get("docwire.request_id") == request_id]
        return len(ours) == 2

    ours = [s for s in receiver.wait_for(found) if s.attributes.get("docwire.request_id") == request_id]
    by_service = {s.service: s for s in ours}
    assert set(by_service) == {"gateway", "first"}  # faulty does not serve this endpoint
    assert by_service["gateway"].parent_span_id == ""
    assert by_service["first"].parent_span_id == by_service["gateway"].span_id
    assert by_service["first"].trace_id == by_service["gateway"].trace_id


def test_each_request_of_a_client_stream_gets_its_own_executor_spans(observed: Flow, receiver: OtlpReceiver) -> None:
    """Past each replica's first request the gateway sends a client stream's requests over one ProcessStream
    call per replica, opened with the metadata of the request that opened it: each later request carries its
    own trace context in its ProcessCall, so every executor span still hangs below its own request's span."""
    traceparent, trace_id, client_span = _traceparent()
    with Client(host="127.0.0.1", port=observed.port) as client:
        responses = client.post(
            "/ok", texts(8), request_size=1, return_responses=True, metadata={"traceparent": traceparent}
        )
    assert len(responses) == 8
    spans = [s for s in receiver.wait_for(_of_trace(trace_id, 24)) if s.trace_id == trace_id]
    gateway = {s.span_id: s for s in spans if s.service == "gateway"}
    assert len(gateway) == 8
    assert {s.parent_span_id for s in gateway.values()} == {client_span}
    below: dict[str, list[str]] = {span_id: [] for span_id in gateway}
    for span in spans:
        if span.service != "gateway":
            below[span.parent_span_id].append(span.service)
            assert (
                span.attributes["docwire.request_id"] == gateway[span.parent_span_id].attributes["docwire.request_id"]
            )
    assert {span_id: sorted(services) for span_id, services in below.items()} == {
        span_id: ["faulty", "first"] for span_id in gateway
    }
