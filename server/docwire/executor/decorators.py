"""The ``@requests`` decorator that binds executor methods to endpoints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from docwire_contract.conventions import DEFAULT_ENDPOINT, normalize_endpoint

__all__ = ["Binding", "requests"]

_BINDING_ATTR = "__docwire_binding__"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Binding:
    """What ``@requests`` recorded on a method."""

    endpoints: tuple[str, ...]
    request_schema: Any = None
    response_schema: Any = None


@overload
def requests(func: F) -> F: ...
@overload
def requests(
    func: None = None,
    *,
    on: str | Sequence[str] | None = None,
    request_schema: Any = None,
    response_schema: Any = None,
) -> Callable[[F], F]: ...
def requests(
    func: F | None = None,
    *,
    on: str | Sequence[str] | None = None,
    request_schema: Any = None,
    response_schema: Any = None,
) -> F | Callable[[F], F]:
    """Binds an executor method to one or more endpoints.

    ``@requests`` alone makes the method the default handler: it serves every
    endpoint no other method of the executor is bound to. The decorated function
    is returned unchanged, so an Executor stays an ordinary class in unit tests.

    Args:
        func: the method, when used as a bare ``@requests``.
        on: an endpoint such as ``"/index"`` or a list of them.
        request_schema: the input type (``DocList[X]`` or ``X``); overrides the annotation.
        response_schema: the output type; overrides the return annotation.
    """

    def bind(fn: F) -> F:
        if on is None:
            endpoints: tuple[str, ...] = (DEFAULT_ENDPOINT,)
        elif isinstance(on, str):
            endpoints = (normalize_endpoint(on),)
        elif isinstance(on, Sequence) and all(isinstance(e, str) for e in on):
            endpoints = tuple(normalize_endpoint(e) for e in on)
        else:
            raise TypeError(
                f"@requests(on=...) on {fn.__qualname__} takes an endpoint ('/index') or a list of them, not {on!r}"
            )
        if not endpoints:
            raise ValueError(f"@requests(on=...) on {fn.__qualname__} names no endpoint")
        setattr(fn, _BINDING_ATTR, Binding(endpoints, request_schema, response_schema))
        return fn

    if func is not None:
        return bind(func)
    return bind


def binding_of(fn: object) -> Binding | None:
    """Returns the binding ``@requests`` put on ``fn``, if any."""
    binding = getattr(fn, _BINDING_ATTR, None)
    return binding if isinstance(binding, Binding) else None
