"""Per-reply callbacks (``on_done``, ``on_error``, ``on_always``) and what an error reply does without them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from docwire_client.response import Response
from docwire_contract.errors import ExecutorError

__all__ = ["Callback", "Callbacks"]

#: A callback receives one reply.
Callback: TypeAlias = Callable[[Response[Any]], object]

logger = logging.getLogger("docwire.client")


@dataclass(frozen=True, slots=True, kw_only=True)
class Callbacks:
    """What happens with each reply (seed 000's semantics).

    - ``on_done`` runs for each successful reply, ``on_error`` for each reply whose
      status carries an executor's exception, ``on_always`` for both, after the other.
    - An executor's error with no ``on_error`` raises ``ExecutorError``, unless
      ``continue_on_error``: then it is logged and the remaining requests go on.
    - An error the gateway names in a reply (EndpointNotFound, ExecutorUnavailable, a
      bad request...) is not an executor's exception: it always raises, as it does
      for a unary call, and so do transport errors, which never reach callbacks.
    - An exception raised by a callback propagates (noting which callback raised),
      unless ``continue_on_error``: then it is logged with its traceback.
    """

    on_done: Callback | None = None
    on_error: Callback | None = None
    on_always: Callback | None = None
    continue_on_error: bool = False

    @property
    def given(self) -> bool:
        """Whether any callback is set (the sync ``post`` then returns None)."""
        return self.on_done is not None or self.on_error is not None or self.on_always is not None

    def handle(self, response: Response[Any]) -> None:
        """Runs the callbacks for one reply.

        Raises:
            ExecutorError: an executor raised and neither ``on_error`` nor ``continue_on_error`` is set.
            DocwireError: the gateway reported an error for this request.
            Exception: a callback raised (without ``continue_on_error``).
        """
        if response.is_error:
            error = response.error()
            if not isinstance(error, ExecutorError):
                raise error
            if self.on_error is not None:
                self._call("on_error", self.on_error, response)
            elif self.continue_on_error:
                logger.error("request %s failed, continuing: %s", response.request_id, error)
            else:
                raise error
        elif self.on_done is not None:
            self._call("on_done", self.on_done, response)
        if self.on_always is not None:
            self._call("on_always", self.on_always, response)

    def _call(self, name: str, callback: Callback, response: Response[Any]) -> None:
        try:
            callback(response)
        except Exception as exc:  # user code: report it with where it came from
            if not self.continue_on_error:
                exc.add_note(f"raised by the {name} callback for request {response.request_id}")
                raise
            logger.exception("the %s callback raised for request %s; continuing", name, response.request_id)
