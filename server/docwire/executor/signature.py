"""Reads an endpoint method's signature: which documents it takes and returns, and how."""

from __future__ import annotations

import inspect
import typing
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from docarray import BaseDoc
from pydantic import BaseModel

from docwire.executor.decorators import Binding
from docwire_contract.doc_types import Document, document_class

__all__ = ["EndpointSignature", "read_signature"]

_GENERATOR_ORIGINS = {
    AsyncIterator,
    Iterator,
    Generator,
    typing.AsyncGenerator,
    typing.AsyncIterator,
    typing.Iterator,
    typing.Generator,
}


@dataclass(frozen=True, slots=True)
class EndpointSignature:
    """What dispatch needs to know about one ``@requests`` method.

    Attributes:
        input_type: the document class requests are decoded into.
        output_type: the document class replies are encoded from.
        single_doc: the method takes ``doc`` (one document per call) instead of ``docs``.
        is_async: the method is a coroutine (or async generator) function.
        is_generator: the method yields documents (a streaming endpoint).
        parameters_model: the pydantic model ``parameters`` is validated into, if annotated.
        accepted: the keyword arguments the method takes; None when it takes ``**kwargs``.
    """

    input_type: type[BaseDoc]
    output_type: type[BaseDoc]
    single_doc: bool
    is_async: bool
    is_generator: bool
    parameters_model: type[BaseModel] | None
    accepted: frozenset[str] | None


def read_signature(fn: Callable[..., Any], binding: Binding) -> EndpointSignature:
    """Introspects ``fn`` (with what ``@requests`` recorded) into an EndpointSignature."""
    params = inspect.signature(fn).parameters
    hints = _type_hints(fn)
    single_doc = "doc" in params and "docs" not in params
    _check_parameters(fn, params, "doc" if single_doc else "docs")
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = None if takes_kwargs else frozenset(params) - {"self"}

    input_type = document_class(binding.request_schema) or document_class(hints.get("doc" if single_doc else "docs"))
    returned = hints.get("return")
    is_generator = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
    if is_generator and typing.get_origin(returned) in _GENERATOR_ORIGINS:
        returned = typing.get_args(returned)[0]
    output_type = document_class(binding.response_schema) or document_class(returned) or input_type

    parameters_model = hints.get("parameters")
    if not (inspect.isclass(parameters_model) and issubclass(parameters_model, BaseModel)):
        parameters_model = None
    return EndpointSignature(
        input_type=input_type or Document,
        output_type=output_type or Document,
        single_doc=single_doc,
        is_async=inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn),
        is_generator=is_generator,
        parameters_model=parameters_model,
        accepted=accepted,
    )


#: The keyword arguments an endpoint method is offered besides its documents (``dispatch._arguments``).
OFFERED = ("parameters", "metadata", "tracing_context", "docs_matrix", "docs_map")


def _check_parameters(fn: Callable[..., Any], params: Mapping[str, inspect.Parameter], documents: str) -> None:
    """Refuses, when the class is defined, a method parameter no call would fill (it failed every request).

    Raises:
        TypeError: a parameter without a default is none of those an endpoint is given, or is positional-only.
    """
    offered = {documents, *OFFERED}
    for name, param in list(params.items())[1:]:  # after self
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if param.default is inspect.Parameter.empty and (
            name not in offered or param.kind is inspect.Parameter.POSITIONAL_ONLY
        ):
            raise TypeError(
                f"endpoint method {fn.__qualname__} has a parameter {name!r} no request fills: it is called with "
                f"the keywords {', '.join(sorted(offered))} (and **kwargs takes the rest); rename it or give it "
                "a default"
            )


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except (NameError, TypeError):
        # Unresolvable forward references: fall back to what is already an object.
        return {k: v for k, v in getattr(fn, "__annotations__", {}).items() if not isinstance(v, str)}
