"""The mutual-TLS options of ``docwire executor serve`` and ``docwire gateway serve`` (``transports.tls``).

An executor: ``--tls-cert exec.pem --tls-key exec.key --tls-client-ca gateways-ca.pem`` (all three, or
none for plaintext). A gateway: ``--executor-tls-ca executors-ca.pem --executor-tls-cert gw.pem
--executor-tls-key gw.key`` (the CA alone verifies executors without showing a certificate).
"""

from __future__ import annotations

import argparse

from docwire.transports.tls import MutualTls

__all__ = ["add_executor_tls_arguments", "add_gateway_tls_arguments", "executor_tls", "gateway_executor_tls"]


def add_executor_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tls-cert``, ``--tls-key``, ``--tls-client-ca``."""
    group = parser.add_argument_group("mutual TLS (all three, or none for plaintext)")
    group.add_argument("--tls-cert", default=None, help="serve over TLS with this PEM certificate (chain)")
    group.add_argument("--tls-key", default=None, help="the certificate's PEM private key")
    group.add_argument("--tls-client-ca", default=None, help="the CA whose certificates clients (gateways) must show")


def executor_tls(args: argparse.Namespace) -> MutualTls | None:
    """The executor's mutual TLS, or None (plaintext).

    Raises:
        ValueError: some of the three options but not all, or a file that is not usable.
    """
    given = {"--tls-cert": args.tls_cert, "--tls-key": args.tls_key, "--tls-client-ca": args.tls_client_ca}
    missing = [option for option, value in given.items() if value is None]
    if len(missing) == len(given):
        return None
    if missing:
        raise ValueError(f"mutual TLS needs --tls-cert, --tls-key and --tls-client-ca; missing: {' '.join(missing)}")
    return MutualTls(certfile=args.tls_cert, keyfile=args.tls_key, ca_file=args.tls_client_ca)


def add_gateway_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor-tls-ca``, ``--executor-tls-cert``, ``--executor-tls-key``."""
    group = parser.add_argument_group("mutual TLS to the executors")
    group.add_argument("--executor-tls-ca", default=None, help="dial executors over TLS, verified against this CA")
    group.add_argument("--executor-tls-cert", default=None, help="the PEM certificate the gateway shows executors")
    group.add_argument("--executor-tls-key", default=None, help="that certificate's PEM private key")


def gateway_executor_tls(args: argparse.Namespace) -> MutualTls | None:
    """The gateway's mutual TLS to its executors, or None (plaintext).

    Raises:
        ValueError: a certificate or key without the CA, or a file that is not usable.
    """
    if args.executor_tls_ca is None:
        if args.executor_tls_cert is not None or args.executor_tls_key is not None:
            raise ValueError("--executor-tls-cert and --executor-tls-key need --executor-tls-ca (the executors' CA)")
        return None
    return MutualTls(certfile=args.executor_tls_cert, keyfile=args.executor_tls_key, ca_file=args.executor_tls_ca)
