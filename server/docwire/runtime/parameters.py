"""An endpoint's ``parameters``, validated into the pydantic model it declares before its method runs.

Seed 003: ``parameters: MyModel`` gets the request's parameters validated, with defaults. Done
here, before user code, a request whose parameters do not fit is the caller's error
(``ParametersSchemaError``: INVALID_ARGUMENT over gRPC, 422 over HTTP) naming each field, not an
exception of the executor's; the executor goes on serving.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from docwire.executor.base import BoundEndpoint
from docwire_contract.errors import ParametersSchemaError

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails  # pydantic's own core: what ValidationError.errors() returns

__all__ = ["endpoint_parameters"]

#: How much of a rejected value a message quotes.
_QUOTED_CHARS = 60


def endpoint_parameters(bound: BoundEndpoint, parameters: Mapping[str, Any]) -> Mapping[str, Any] | BaseModel:
    """What ``bound``'s method receives as ``parameters``: the dict, or the model it declares validated from it.

    Raises:
        ParametersSchemaError: the parameters do not fit the model; the message names every field that fails
            (``parameters.limit: Input should be a valid integer, ...``).
    """
    model = bound.signature.parameters_model
    if model is None:
        return parameters
    try:
        return model.model_validate(parameters)
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors(include_url=False))
        raise ParametersSchemaError(
            f"the parameters do not fit {model.__name__} of endpoint {bound.endpoint!r}: {problems}"
        ) from None


def _problem(error: ErrorDetails) -> str:
    """``parameters.limit: Input should be a valid integer, ... (got 'ten')``."""
    where = ".".join(("parameters", *(str(part) for part in error["loc"])))
    if error["type"] == "missing":
        return f"{where}: {error['msg']}"
    quoted = repr(error["input"])
    if len(quoted) > _QUOTED_CHARS:
        quoted = quoted[: _QUOTED_CHARS - 3] + "..."
    return f"{where}: {error['msg']} (got {quoted})"
