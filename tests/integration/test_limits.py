"""The gateway-wide bound on requests in flight (``Flow(max_inflight=N)``): past it a request is refused at once
with ``Overloaded`` (RESOURCE_EXHAUSTED over gRPC, HTTP 429 with Retry-After), and served again once the
requests in flight are answered."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from executors import TextDoc
from limit_executors import Gate

from docwire import Client, Flow, Overloaded

HOST = "127.0.0.1"
LIMIT = 2
#: Seconds an HTTP client has to send a request: the held HTTP requests outlast it (their answer is not bounded).
READ_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    flow = Flow(host=HOST, protocol=["grpc", "http"], port=[0, 0], max_inflight=LIMIT, http_read_timeout=READ_TIMEOUT)
    with flow.add(uses=Gate) as f:
        yield f


def _wait_for(condition: object, what: str) -> None:
    for _ in range(600):  # bounded: 60 s
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


class _Held:
    """``LIMIT`` requests held in flight at the executor until the block ends."""

    def __init__(self, flow: Flow, directory: Path, protocol: str = "grpc") -> None:
        self._flow = flow
        self._protocol = protocol
        self.arrived = directory / "arrived"
        self.arrived.mkdir()
        self.gate = directory / "open"
        self.replies: list[str] = []
        self._threads = [threading.Thread(target=self._post, args=(f"held{i}",)) for i in range(LIMIT)]

    def parameters(self) -> dict[str, str]:
        return {"arrived": str(self.arrived), "open": str(self.gate)}

    def _post(self, text: str) -> None:
        if self._protocol == "http":
            body = {"data": [{"text": text}], "parameters": self.parameters()}
            reply = httpx.post(f"http://{HOST}:{self._flow.ports['http']}/post", json=body, timeout=60)
            assert reply.status_code == 200, reply.text
            self.replies.append(reply.json()["data"][0]["text"])
            return
        with Client(host=HOST, port=self._flow.ports["grpc"]) as client:
            (doc,) = client.post("/", TextDoc(text=text), parameters=self.parameters())
        self.replies.append(str(doc.text))

    def __enter__(self) -> _Held:
        for thread in self._threads:
            thread.start()
        _wait_for(lambda: len(list(self.arrived.iterdir())) == LIMIT, f"{LIMIT} requests at the executor")
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.touch()
        for thread in self._threads:
            thread.join(timeout=60)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "unary"])
def test_grpc_requests_past_the_bound_are_refused_then_served(flow: Flow, tmp_path: Path, stream: bool) -> None:
    with _Held(flow, tmp_path) as held, Client(host=HOST, port=flow.ports["grpc"]) as client:
        with pytest.raises(Overloaded, match=f"max_inflight={LIMIT}"):
            client.post("/", TextDoc(text="one too many"), parameters=held.parameters(), stream=stream)
        assert sorted(p.name for p in held.arrived.iterdir()) == ["held0", "held1"]  # it never reached the executor
    assert sorted(held.replies) == ["held0", "held1"]
    with Client(host=HOST, port=flow.ports["grpc"]) as client:
        (doc,) = client.post("/", TextDoc(text="later"), parameters=held.parameters(), stream=stream)
    assert doc.text == "later"


def test_http_requests_past_the_bound_get_429_with_retry_after(flow: Flow, tmp_path: Path) -> None:
    url = f"http://{HOST}:{flow.ports['http']}/post"
    with _Held(flow, tmp_path, protocol="http") as held:
        body = {"data": [{"text": "one too many"}], "parameters": held.parameters()}
        refused = httpx.post(url, json=body, timeout=30)
        assert refused.status_code == 429, refused.text
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"] == "Overloaded"
        assert refused.json()["status"] == "RESOURCE_EXHAUSTED"
        time.sleep(2 * READ_TIMEOUT)  # the held requests outlast the read timeout: it bounds reading, not answering
    assert sorted(held.replies) == ["held0", "held1"]
    served = httpx.post(url, json={"data": [{"text": "later"}], "parameters": held.parameters()}, timeout=30)
    assert served.status_code == 200, served.text
    assert served.json()["data"][0]["text"] == "later"
