"""The client's connection rules (seed 000: URI or keywords, one source of truth, default ports)."""

from __future__ import annotations

import pytest

from docwire_client.target import Target, parse_target


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"host": "grpc://my.flow:1234"}, Target("my.flow", 1234, "grpc", False)),
        ({"host": "grpcs://my.flow:1234"}, Target("my.flow", 1234, "grpc", True)),
        ({"host": "http://my.flow:1234"}, Target("my.flow", 1234, "http", False)),
        ({"host": "https://my.flow:1234"}, Target("my.flow", 1234, "http", True)),
        ({"host": "ws://my.flow:1234"}, Target("my.flow", 1234, "websocket", False)),
        ({"host": "wss://my.flow:1234"}, Target("my.flow", 1234, "websocket", True)),
        ({"host": "my.flow", "port": 1234, "protocol": "grpc"}, Target("my.flow", 1234, "grpc", False)),
        (
            {"host": "my.flow", "port": 1234, "protocol": "websocket", "tls": True},
            Target("my.flow", 1234, "websocket", True),
        ),
        ({"host": "https://my.flow", "port": 1234}, Target("my.flow", 1234, "http", True)),
        ({"host": "my.flow:1234", "protocol": "http", "tls": True}, Target("my.flow", 1234, "http", True)),
        ({"host": "my.flow"}, Target("my.flow", 80, "grpc", False)),
        ({"host": "my.flow", "tls": True}, Target("my.flow", 443, "grpc", True)),
        ({"host": "grpcs://my.flow"}, Target("my.flow", 443, "grpc", True)),
        ({"port": 12345}, Target("127.0.0.1", 12345, "grpc", False)),
    ],
)
def test_resolves_uri_and_keywords(kwargs: dict[str, object], expected: Target) -> None:
    assert parse_target(**kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": "https://my.flow:1234", "port": 4321}, "port given twice"),
        ({"host": "grpc://my.flow:1234", "protocol": "grpc"}, "protocol given twice"),
        ({"host": "grpcs://my.flow:1234", "tls": True}, "TLS given twice"),
        ({"host": "my.flow:1234", "port": 1}, "port given twice"),
        ({"host": "ftp://my.flow:1234"}, "unknown scheme"),
        ({"host": "my.flow", "protocol": "carrier-pigeon"}, "unknown protocol"),
        ({"host": "my.flow:abc"}, "invalid port"),
        ({"host": "my.flow", "port": 70000}, "out of range"),
    ],
)
def test_rejects_conflicting_or_invalid_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_target(**kwargs)  # type: ignore[arg-type]


def test_address_and_uri() -> None:
    target = Target("::1", 50051, "grpc", True)
    assert target.address == "[::1]:50051"
    assert target.uri == "grpcs://[::1]:50051"
