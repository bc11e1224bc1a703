"""Item 2: retries on transient connectivity errors; a gateway restarted mid-run loses and repeats nothing."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from client_scenarios import Served, protocols, serve
from executors import Recorder, TextDoc

from docwire import Client, DocList, GatewayUnavailable, Response
from docwire_client.retry import RetryPolicy

#: Patient enough to outlast a gateway restart (about two seconds), quick to notice it is back.
RETRIES: dict[str, Any] = {"max_attempts": 40, "initial_backoff": 0.05, "max_backoff": 0.5, "backoff_multiplier": 2}


@pytest.fixture(scope="module", params=protocols())
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param, lambda flow: flow.add(uses=Recorder, name="recorder")) as served:
        yield served


def seen_by_the_executor(client: Client, prefix: str) -> dict[str, float]:
    (response,) = client.post("/seen", return_responses=True)
    seen: dict[str, float] = response.parameters["__results__"]["recorder/rep-0"]["seen"]
    return {text: count for text, count in seen.items() if text.startswith(prefix)}


def retry_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "docwire.client" and "retry" in r.getMessage()]


@pytest.mark.parametrize(
    ("stream", "n_docs", "request_size"),
    [(True, 240, 3), (False, 240, 3), (True, 10_000, 50)],
    ids=["stream", "unary", "stream-10k"],
)
def test_a_gateway_restarted_mid_run_loses_and_repeats_nothing(
    served: Served, stream: bool, n_docs: int, request_size: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Counted by document: every one answered once and run once (issue 15: 10,000 documents)."""
    prefix = f"restart-{stream}-{n_docs}-"
    expected = [f"{prefix}{i}" for i in range(n_docs)]
    stopping, restarted = threading.Event(), threading.Event()
    replies: list[str] = []

    def restart_when_under_way() -> None:
        stopping.wait(timeout=30)
        served.flow.restart_gateway()
        restarted.set()

    async def inputs() -> AsyncIterator[TextDoc]:
        for i, text in enumerate(expected):
            if i == n_docs // 3:  # a third sent: stop the gateway while requests are in flight and more come
                stopping.set()
            if i >= n_docs // 3 and i % request_size == 0:
                await asyncio.sleep(0.01)
            yield TextDoc(text=text)

    def on_done(response: Response[Any]) -> None:
        replies.extend(response.docs.text)

    restarter = threading.Thread(target=restart_when_under_way)
    restarter.start()
    client = served.client()
    try:
        with caplog.at_level(logging.WARNING, logger="docwire.client"):
            client.post(
                "/",
                inputs,
                request_size=request_size,
                prefetch=8,
                stream=stream,
                parameters={"sleep": 0.02},
                on_done=on_done,
                **RETRIES,
            )
    finally:
        stopping.set()
        restarter.join(timeout=60)
    assert restarted.is_set()
    assert retry_warnings(caplog), "the gateway restart did not interrupt the run"
    assert sorted(replies) == sorted(expected)  # every request answered once
    seen = seen_by_the_executor(client, prefix)
    assert sorted(seen) == sorted(expected)
    assert set(seen.values()) == {1}  # and run once


def test_without_retries_a_gateway_gone_mid_stream_raises(served: Served) -> None:
    answered: list[str] = []
    errors: list[Response[Any]] = []
    gateway = served.flow._gateway
    assert gateway is not None

    async def inputs() -> AsyncIterator[TextDoc]:
        for i in range(300):
            if i == 30:
                await asyncio.to_thread(gateway.stop)
            yield TextDoc(text=f"gone-{i}")

    try:
        with pytest.raises(GatewayUnavailable):
            served.client().post(
                "/", inputs, request_size=3, on_done=lambda r: answered.extend(r.docs.text), on_error=errors.append
            )
    finally:
        served.flow.restart_gateway()
    assert len(answered) < 300
    assert errors == []  # a transport error reaches no callback


@pytest.mark.parametrize("n_docs", [1, 10], ids=["unary", "stream"])
def test_a_closed_port_is_retried_max_attempts_times_then_raises(
    served: Served, n_docs: int, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    docs = DocList[TextDoc]([TextDoc(text=str(i)) for i in range(n_docs)])
    max_attempts = 3
    with (
        Client(host="127.0.0.1", port=port, protocol=served.protocol) as client,
        caplog.at_level(logging.WARNING, logger="docwire.client"),
        pytest.raises(GatewayUnavailable, match=f"127.0.0.1:{port}"),
    ):
        client.post("/", docs, request_size=5, max_attempts=max_attempts, initial_backoff=0.01, max_backoff=0.02)
    # Each call logs one warning per retry, at most max_attempts - 1; the call that gives up logged exactly that.
    retries_per_call = max_attempts - 1
    if n_docs == 1 or served.protocol in protocols("http2"):  # one call (a bidi stream over gRPC)
        assert len(retry_warnings(caplog)) == retries_per_call
    else:  # HTTP/1.1: a call per request (2); the first to give up cancels the other, at any point of its retries
        calls = n_docs // 5
        assert retries_per_call <= len(retry_warnings(caplog)) <= calls * retries_per_call


def test_the_nth_retry_waits_a_random_time_below_its_bound() -> None:
    policy = RetryPolicy(max_attempts=6, initial_backoff=0.1, max_backoff=0.5, backoff_multiplier=2)
    random.seed(3)
    for retry, bound in enumerate([0.1, 0.2, 0.4, 0.5, 0.5], start=1):
        delays = [policy.delay(retry) for _ in range(200)]
        assert all(0 <= d <= bound for d in delays)
        assert max(delays) > bound / 2  # random over the whole range, not a constant
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
