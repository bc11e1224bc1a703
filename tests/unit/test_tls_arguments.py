"""The mutual-TLS options of ``docwire executor serve`` and ``docwire gateway serve``: all or nothing."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from docwire.orchestration.commands import add_gateway_arguments, gateway_spec
from docwire.orchestration.tls_arguments import (
    add_executor_tls_arguments,
    add_gateway_tls_arguments,
    executor_tls,
    gateway_executor_tls,
)
from docwire.transports.tls import MutualTls


def _parsed(add: object, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add(parser)  # type: ignore[operator]
    return parser.parse_args(argv)


def test_an_executor_without_tls_options_serves_plaintext() -> None:
    assert executor_tls(_parsed(add_executor_tls_arguments, [])) is None


def test_an_executor_needs_all_three_files() -> None:
    args = _parsed(add_executor_tls_arguments, ["--tls-cert", "executor.pem"])
    with pytest.raises(ValueError, match="missing: --tls-key --tls-client-ca"):
        executor_tls(args)


def test_a_gateway_certificate_needs_the_executors_ca() -> None:
    assert gateway_executor_tls(_parsed(add_gateway_tls_arguments, [])) is None
    args = _parsed(add_gateway_tls_arguments, ["--executor-tls-cert", "gw.pem", "--executor-tls-key", "gw.key"])
    with pytest.raises(ValueError, match="need --executor-tls-ca"):
        gateway_executor_tls(args)


def test_a_missing_file_is_named() -> None:
    args = _parsed(add_gateway_tls_arguments, ["--executor-tls-ca", "/nonexistent/ca.pem"])
    with pytest.raises(ValueError, match=r"ca_file '/nonexistent/ca.pem' does not exist"):
        gateway_executor_tls(args)


def test_docwire_gateway_serve_dials_every_executor_with_it(tmp_path: Path) -> None:
    ca = tmp_path / "executors-ca.pem"
    ca.write_text("(a CA; read when the gateway dials)")
    argv = ["--executor", "encoder=10.0.0.2:8100", "--executor-tls-ca", str(ca), "--max-inflight", "8"]
    spec = gateway_spec(_parsed(add_gateway_arguments, argv))
    assert spec.executor_tls == MutualTls(certfile=None, keyfile=None, ca_file=str(ca))
    assert spec.plaintext_executors == frozenset()
    assert spec.max_inflight == 8
