"""Turns an exception raised by executor code into the Status that travels in the reply."""

from __future__ import annotations

import traceback

from docwire_contract.v1 import request_pb2

__all__ = ["ERROR_DETAILS", "error_status", "set_error_details"]

#: What an executor's exception tells the caller: everything (with the stack trace), or its class and message.
ERROR_DETAILS = ("full", "message")

# One executor per process, told once at start (``runtime.worker``): a process-wide setting.
_details = "full"


def set_error_details(details: str) -> None:
    """``"full"``: replies carry the stack trace; ``"message"``: no stack, no file paths (for production)."""
    global _details
    if details not in ERROR_DETAILS:
        raise ValueError(f"error_details must be one of {list(ERROR_DETAILS)}, not {details!r}")
    _details = details


def error_status(exc: BaseException, executor: str) -> request_pb2.Status:
    """An ERROR status naming the exception, its arguments, its traceback (unless withheld) and the executor."""
    status = request_pb2.Status(code=request_pb2.Status.CODE_ERROR, description=repr(exc))
    status.exception.name = type(exc).__name__
    status.exception.args.extend(str(a) for a in exc.args)
    if _details == "full":
        status.exception.stacks.extend(traceback.format_exception(exc))
    status.exception.executor = executor
    return status
