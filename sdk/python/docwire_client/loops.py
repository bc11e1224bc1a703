"""Connections belong to the event loop that opened them: the one rule every transport's pool follows."""

from __future__ import annotations

import asyncio

__all__ = ["reusable_on_this_loop"]


def reusable_on_this_loop(opened_on: asyncio.AbstractEventLoop | None, what: str) -> bool:
    """Whether connections opened on ``opened_on`` may serve the running loop.

    False when they were opened on a loop that is gone (they went with it: open new ones),
    True when that loop is this one or nothing was opened yet.

    Raises:
        RuntimeError: they belong to another loop that still runs (another thread's, say).
    """
    if opened_on is None or opened_on is asyncio.get_running_loop():
        return True
    if not opened_on.is_closed():
        raise RuntimeError(
            f"this AsyncClient is bound to the event loop it was first used in, and {what} cannot move between "
            "loops (or threads). Create one AsyncClient per event loop, or share one sync Client between "
            "threads: it serves them all on its own loop."
        )
    return False
