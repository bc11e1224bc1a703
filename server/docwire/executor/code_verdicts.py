"""A yes/no judgement of a method's bytecode, made once per code object.

The runtime reads endpoint methods' bytecode to decide how to call them
(``docwire.executor.docs_access``, ``docwire.executor.inline_calls``); the answer depends on
the code alone, so it is kept per code object (a bounded number of them).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, Final

__all__ = ["CodeVerdicts"]

_VERDICT_LIMIT: Final = 1024


class CodeVerdicts:
    """``judge(code)`` for a plain function's code, cached; False for anything that is not a plain function.

    Args:
        judge: the test; it sees the code of a plain Python function (a bound method's ``__func__``).
    """

    def __init__(self, judge: Callable[[types.CodeType], bool]) -> None:
        self._judge = judge
        self._verdicts: dict[types.CodeType, bool] = {}

    def __call__(self, method: Callable[..., Any]) -> bool:
        """The verdict on ``method`` (bound or plain); False for a wrapper object, a partial or a C function."""
        func = getattr(method, "__func__", method)
        if type(func) is not types.FunctionType:
            return False
        code = func.__code__
        verdict = self._verdicts.get(code)
        if verdict is None:
            verdict = self._judge(code)
            if len(self._verdicts) < _VERDICT_LIMIT:
                self._verdicts[code] = verdict
        return verdict
