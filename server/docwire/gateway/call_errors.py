"""How a failed call to an executor becomes the DocwireError the gateway reports, naming the replica.

Unary calls (``upstream``) and ProcessStream calls (``replica_streams``) both report
through these, so a request fails with the same error and message on either path.
"""

from __future__ import annotations

import grpc

from docwire_contract.conventions import ERROR_METADATA_KEY
from docwire_contract.errors import (
    DocwireError,
    ExecutorUnavailable,
    RequestTimeout,
    ended_while_sending,
    error_from_call_status,
)

__all__ = ["call_error", "upstream_error"]


def upstream_error(exc: grpc.aio.AioRpcError, executor: str, address: str) -> DocwireError:
    """Translates a failed call to an executor into the DocwireError the gateway reports."""
    if ended_while_sending(exc):  # the executor ended the call (or went away); its own status is lost
        return ExecutorUnavailable(f"executor {executor!r} at {address} ended the call while a request was sent")
    named = [str(value) for key, value in exc.trailing_metadata() or () if key == ERROR_METADATA_KEY]
    return call_error(exc.code(), exc.details() or "", named[0] if named else "", executor, address)


def call_error(code: grpc.StatusCode, details: str, error_class: str, executor: str, address: str) -> DocwireError:
    """The DocwireError the gateway reports for a call to an executor that ended with ``code``
    (``error_class``: the class the executor named, empty when none)."""
    where = f"executor {executor!r} at {address}"
    if code == grpc.StatusCode.UNAVAILABLE:
        return ExecutorUnavailable(f"{where} is unavailable: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return RequestTimeout(f"{where} did not answer before the deadline")
    # Anything else keeps the class the executor named (or its code's), with the executor named.
    error = type(error_from_call_status(code, details, error_class))(f"{where}: {details}")
    error.grpc_code = code
    return error
