"""Values as the JSON a protobuf ``Struct`` holds: a request's ``parameters``, and the dicts executors return
(which travel back in them).

Converted as pydantic converts values to JSON (dates and UUIDs to strings, tuples and sets to lists,
dataclasses and pydantic models to objects, keys to strings), numpy arrays and numbers to lists and numbers.
The gateway, which forwards parameters as bytes, does not import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python

__all__ = ["json_object"]


def json_object(value: object, what: str) -> dict[str, Any]:
    """``value`` (a dict, or an object pydantic makes a JSON object of) as a dict of JSON values.

    Raises:
        TypeError: it is not a JSON object, or holds a value JSON cannot hold; the message begins with ``what``.
    """
    try:
        converted = to_jsonable_python(dict(value) if isinstance(value, Mapping) else value, fallback=_numpy_value)
    except (TypeError, PydanticSerializationError) as exc:
        raise TypeError(
            f"{what} travel as JSON and {exc}: use numbers, strings, booleans, None, lists and dicts"
        ) from None
    if not isinstance(converted, dict):
        raise TypeError(f"{what} must be a dict (a JSON object), not {type(value).__name__}")
    return converted


def _numpy_value(value: Any) -> Any:
    """What ``to_jsonable_python`` makes of a value it does not know: a numpy array or number as Python's."""
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):  # ndarray and numpy's scalar types
        return value.tolist()
    raise TypeError(f"hold a {type(value).__module__}.{type(value).__qualname__}, which JSON cannot hold")
