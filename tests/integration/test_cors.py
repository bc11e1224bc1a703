"""CORS on the gateway's HTTP port, as a browser sees it (real processes)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from executors import Appender

from docwire import Flow
from docwire.orchestration.config import FlowConfig

ALLOWED = "https://app.example"
OTHER = "https://evil.example"


@pytest.fixture(scope="module")
def listed() -> Iterator[Flow]:
    with Flow(host="127.0.0.1", protocol="http", cors=[ALLOWED]).add(uses=Appender, name="first") as started:
        yield started


@pytest.fixture(scope="module")
def anyone() -> Iterator[Flow]:
    with Flow(host="127.0.0.1", protocol="http", cors=True).add(uses=Appender, name="first") as started:
        yield started


@pytest.fixture(scope="module")
def closed() -> Iterator[Flow]:
    with Flow(host="127.0.0.1", protocol="http").add(uses=Appender, name="first") as started:
        yield started


def _preflight(flow: Flow, origin: str) -> httpx.Response:
    return httpx.options(
        f"http://127.0.0.1:{flow.port}/post",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=30,
    )


def _post(flow: Flow, origin: str) -> httpx.Response:
    body = {"data": [{"text": "x"}], "execEndpoint": "/any"}
    return httpx.post(f"http://127.0.0.1:{flow.port}/post", json=body, headers={"Origin": origin}, timeout=30)


def test_preflight_from_an_allowed_origin(listed: Flow) -> None:
    reply = _preflight(listed, ALLOWED)
    assert reply.status_code == 200, reply.text
    assert reply.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in reply.headers["access-control-allow-methods"]
    assert "content-type" in reply.headers["access-control-allow-headers"].lower()


def test_preflight_from_another_origin_is_not_allowed(listed: Flow) -> None:
    reply = _preflight(listed, OTHER)
    assert "access-control-allow-origin" not in reply.headers
    assert reply.status_code == 400


def test_actual_post_carries_the_allow_origin(listed: Flow) -> None:
    reply = _post(listed, ALLOWED)
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"][0]["text"] == "x[first]"
    assert reply.headers["access-control-allow-origin"] == ALLOWED
    assert "access-control-allow-origin" not in _post(listed, OTHER).headers


def test_cors_true_allows_any_origin(anyone: Flow) -> None:
    reply = _preflight(anyone, OTHER)
    assert reply.status_code == 200, reply.text
    assert reply.headers["access-control-allow-origin"] in ("*", OTHER)
    assert _post(anyone, OTHER).headers["access-control-allow-origin"] == "*"


def test_without_cors_there_are_no_cors_headers(closed: Flow) -> None:
    reply = _post(closed, ALLOWED)
    assert reply.status_code == 200, reply.text
    assert not [name for name in reply.headers if name.lower().startswith("access-control-")]
    preflight = _preflight(closed, ALLOWED)
    assert not [name for name in preflight.headers if name.lower().startswith("access-control-")]


def test_cors_setting_is_checked() -> None:
    assert FlowConfig().cors_origins == ()
    assert FlowConfig(cors=True).cors_origins == ("*",)
    assert FlowConfig(cors=["https://a.example", "https://b.example"]).cors == (
        "https://a.example",
        "https://b.example",
    )
    with pytest.raises(ValueError, match="list of origins"):
        FlowConfig(cors="https://a.example")
    with pytest.raises(ValueError, match="list of origins"):
        FlowConfig(cors=[""])
