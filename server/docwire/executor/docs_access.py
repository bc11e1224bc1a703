"""Whether an endpoint method can see the documents it is given, read from its bytecode.

An executor that never looks at ``docs`` (a pass-through, an endpoint that only takes
``parameters``, one that returns a dict computed without the documents) cannot change
them: the runtime may then answer with the request's document bytes instead of decoding
and re-encoding them (see ``docwire.runtime.servicer``).

The test is static and conservative. The documents reach a method through its ``docs``
parameter or, without one, inside its ``**kwargs``; the method is *blind* to them only
when it is a plain Python function (not a wrapper object, a partial or a C function)
whose code never names that parameter except to assign it, does not capture it in a
closure, and (nested functions included) names nothing that reads frames (``locals()``,
``vars()``, ``eval``, ``sys._getframe``, ``inspect.currentframe``, ``breakpoint()``,
``f_locals``, ...). A decorator that forwards ``*args, **kwargs`` reads them, so a
decorated method is never blind. With a debugger or tracer active, nothing is blind (it
could show the argument). What the test cannot see: a function the method calls that
walks up the stack into the method's frame (a frame-inspecting logger, an error
reporter recording local variables) would find an empty ``docs`` there.
"""

from __future__ import annotations

import dis
import inspect
import sys
import threading
import types
from typing import Final

from docwire.executor.code_verdicts import CodeVerdicts

__all__ = ["never_reads_docs", "tracing"]

#: Names whose use may read a frame's locals, where the argument would show.
_FRAME_READERS: Final = frozenset(
    {
        "locals",
        "vars",
        "eval",
        "exec",
        "breakpoint",
        "_getframe",
        "currentframe",
        "stack",
        "trace",
        "getouterframes",
        "getinnerframes",
        "f_locals",
        "f_back",
        "tb_frame",
        "settrace",
        "setprofile",
    }
)
# Instructions that only bind the name: the argument's value is gone, never read.
_BINDS_ONLY: Final = frozenset({"STORE_FAST", "DELETE_FAST"})


def _docs_parameter(code: types.CodeType) -> str | None:
    """The local through which ``docs`` arrives: ``docs`` itself, else the ``**kwargs`` name; None if neither."""
    named = code.co_argcount + code.co_kwonlyargcount
    if "docs" in code.co_varnames[code.co_posonlyargcount : named]:
        return "docs"
    if code.co_flags & inspect.CO_VARKEYWORDS:
        return code.co_varnames[named + bool(code.co_flags & inspect.CO_VARARGS)]
    return None


def _reads_frames(code: types.CodeType) -> bool:
    """Whether ``code`` or code nested in it names something that reads frames."""
    if _FRAME_READERS.intersection(code.co_names):
        return True
    return any(isinstance(const, types.CodeType) and _reads_frames(const) for const in code.co_consts)


def _code_reads(code: types.CodeType, name: str) -> bool:
    if name in code.co_cellvars or _reads_frames(code):
        return True
    for instruction in dis.get_instructions(code):
        if instruction.opname in _BINDS_ONLY:
            continue
        argval = instruction.argval
        if argval == name or (isinstance(argval, tuple) and name in argval):
            return True
    return False


def _blind_to_docs(code: types.CodeType) -> bool:
    name = _docs_parameter(code)
    return name is None or not _code_reads(code, name)  # None: the documents are not passed at all


#: Whether calling ``method(docs=..., ...)`` cannot observe ``docs`` (see the module docstring).
#: ``method`` is the bound method (or plain function) the runtime calls. False whenever in doubt.
never_reads_docs: Final = CodeVerdicts(_blind_to_docs)


def tracing() -> bool:
    """Whether a debugger or tracer hook is set (it could show a method's arguments).

    Profilers (``sys.setprofile``, cProfile) do not show arguments and do not count.
    """
    if sys.gettrace() is not None or threading.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and monitoring.get_tool(monitoring.DEBUGGER_ID) is not None
