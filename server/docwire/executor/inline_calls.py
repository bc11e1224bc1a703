"""Which sync endpoint methods may run on the event loop instead of the sync-method thread.

A sync method normally runs on the executor's one thread (``docwire.executor.sync_runner``),
so the server keeps answering while user code works. For a method that cannot do any work
that hop is pure cost: two thread switches per call, both on the path of every request.

The rule: a sync method runs inline when it is a plain Python function whose bytecode
only moves constants and its own locals around (``_INLINE_OPS``): no call, no attribute,
global or item access, no operator, no loop, no exception handling, no closure. Such a
function ends after a bounded number of steps and runs no other Python code (no
``__getattr__``, ``__hash__`` or operator method), so it cannot block the event loop or
touch shared state. A no-op endpoint (``pass``, a docstring, ``return docs``, ``return
{"ok": True}``) qualifies; anything that reads its documents or calls a model does not.
Decorated methods (a wrapper forwarding ``*args, **kwargs`` calls) never qualify.

The rest of the runtime is unchanged: the call still holds its ``max_concurrency`` slot and
its place in a dynamic batch; exceptions (an unbound local) reach the caller as before.
"""

from __future__ import annotations

import dis
import inspect
import types
from typing import Final

from docwire.executor.code_verdicts import CodeVerdicts

__all__ = ["runs_inline"]

#: Opcodes that only load constants and locals, build containers of them and return (and ``BUILD_MAP``
#: right after loads of constant keys and simple values: ``{"ok": True}``).
_INLINE_OPS: Final = frozenset(
    {
        "RESUME",
        "NOP",
        "CACHE",
        "EXTENDED_ARG",
        "LOAD_CONST",
        "LOAD_FAST",
        "LOAD_FAST_CHECK",
        "STORE_FAST",
        "DELETE_FAST",
        "POP_TOP",
        "COPY",
        "SWAP",
        "BUILD_TUPLE",
        "BUILD_LIST",
        "BUILD_CONST_KEY_MAP",
        "RETURN_VALUE",
        "RETURN_CONST",
    }
)
_SUSPENDS: Final = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _only_moves_values(code: types.CodeType) -> bool:
    if code.co_flags & _SUSPENDS or code.co_cellvars or code.co_freevars:
        return False
    instructions = list(dis.get_instructions(code))
    for at, instruction in enumerate(instructions):
        if instruction.opname == "BUILD_MAP":
            if not _constant_keys(instructions[at - 2 * instruction.arg : at] if instruction.arg else []):
                return False
        elif instruction.opname not in _INLINE_OPS:
            return False
    return True


def _constant_keys(pairs: list[dis.Instruction]) -> bool:
    """Whether the loads in front of a ``BUILD_MAP`` (key, value, key, value, ...) hash only constants."""
    keys, values = pairs[::2], pairs[1::2]
    return all(key.opname == "LOAD_CONST" for key in keys) and all(
        value.opname in {"LOAD_CONST", "LOAD_FAST"} for value in values
    )


#: Whether the sync ``method`` (bound or plain) may be called on the event loop (see the module docstring).
#: False whenever in doubt: anything but a plain function, or code doing more than moving values.
runs_inline: Final = CodeVerdicts(_only_moves_values)
