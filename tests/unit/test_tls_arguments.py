"""The mutual-TLS options of ``docwire executor serve`` and ``docwire gateway serve``: all or nothing."""

from __future__ import annotations

import argparse

import pytest

from docwire.orchestration.tls_arguments import (
    add_executor_tls_arguments,
    add_gateway_tls_arguments,
    executor_tls,
    gateway_executor_tls,
)


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
