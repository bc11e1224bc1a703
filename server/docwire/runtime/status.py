"""Turns an exception raised by executor code into the Status that travels in the reply."""

from __future__ import annotations

import traceback

from docwire_contract.v1 import request_pb2

__all__ = ["error_status"]


def error_status(exc: BaseException, executor: str) -> request_pb2.Status:
    """An ERROR status naming the exception, its arguments, its traceback and the executor."""
    status = request_pb2.Status(code=request_pb2.Status.CODE_ERROR, description=repr(exc))
    status.exception.name = type(exc).__name__
    status.exception.args.extend(str(a) for a in exc.args)
    status.exception.stacks.extend(traceback.format_exception(exc))
    status.exception.executor = executor
    return status
