"""``when`` filters: docarray's query language evaluated on document messages, without their schema.

A condition maps a field path to an operator dict, ``{"tags__key": {"$eq": 5}}``; ``__``
walks into nested documents and dicts (``tags__key`` is ``doc.tags["key"]``). Several
fields in one dict must all hold; ``$and`` / ``$or`` take lists of conditions. Operators:
``$eq $ne $gt $gte $lt $lte $in $nin $regex $exists``; a bare value means ``$eq``.

A field a document does not have (or holds None) fails every operator but ``$ne``, ``$nin``
and ``$exists: false``, as in MongoDB, whose operators docarray's language copies.

The gateway evaluates filters on ``docwire.v1.Doc`` messages: each field is a ``Node``
whose set member gives the value (text, number, bool, bytes, nested document, dict, list),
so no document class is needed and nothing is decoded into Python documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from docwire_contract.errors import BadRequest
from docwire_contract.v1 import document_pb2

__all__ = ["DocFilter", "compile_filter"]

#: A compiled filter: a document message in, whether it passes out.
DocFilter = Callable[[document_pb2.Doc], bool]

_MISSING: Final = object()

_COMPARISONS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "$eq": lambda value, arg: value == arg,
    "$ne": lambda value, arg: value != arg,
    "$gt": lambda value, arg: value > arg,
    "$gte": lambda value, arg: value >= arg,
    "$lt": lambda value, arg: value < arg,
    "$lte": lambda value, arg: value <= arg,
    "$in": lambda value, arg: value in arg,
    "$nin": lambda value, arg: value not in arg,
    "$regex": lambda value, arg: isinstance(value, str) and re.search(arg, value) is not None,
}

#: Operators that hold for a missing field.
_HOLD_WHEN_MISSING: Final = frozenset({"$ne", "$nin"})


def compile_filter(condition: Mapping[str, Any], where: str = "when") -> DocFilter:
    """Checks ``condition`` once and returns the function that applies it to a document.

    Raises:
        BadRequest: an unknown operator, or an operand of the wrong kind; the message names it.
    """
    if not isinstance(condition, Mapping):
        raise BadRequest(f"{where}: a condition is a mapping of fields to operators, not {condition!r}")
    tests = [_compile_entry(key, value, where) for key, value in condition.items()]
    return lambda doc: all(test(doc) for test in tests)


def _compile_entry(key: str, value: Any, where: str) -> DocFilter:
    if key in ("$and", "$or"):
        if not isinstance(value, list) or not value:
            raise BadRequest(f"{where}: {key} takes a non-empty list of conditions, not {value!r}")
        parts = [compile_filter(part, where) for part in value]
        if key == "$and":
            return lambda doc: all(part(doc) for part in parts)
        return lambda doc: any(part(doc) for part in parts)
    if key.startswith("$"):
        raise BadRequest(f"{where}: unknown operator {key!r} at the top of a condition (use $and or $or)")
    path = tuple(key.split("__"))
    operators = value if isinstance(value, Mapping) and all(str(k).startswith("$") for k in value) else {"$eq": value}
    checks = [_compile_operator(op, arg, key, where) for op, arg in operators.items()]
    return lambda doc: all(check(_lookup(doc, path)) for check in checks)


def _compile_operator(op: str, arg: Any, key: str, where: str) -> Callable[[Any], bool]:
    if op == "$exists":
        wanted = bool(arg)
        return lambda value: (value is not _MISSING) == wanted
    compare = _COMPARISONS.get(op)
    if compare is None:
        known = ", ".join([*_COMPARISONS, "$exists"])
        raise BadRequest(f"{where}: unknown operator {op!r} on {key!r}; operators: {known}")
    if op in ("$in", "$nin") and not isinstance(arg, list | tuple | set):
        raise BadRequest(f"{where}: {op} on {key!r} takes a list, not {arg!r}")
    if op == "$regex":
        try:
            arg = re.compile(arg)
        except (re.error, TypeError) as exc:
            raise BadRequest(f"{where}: $regex on {key!r} is not a regular expression: {exc}") from exc
    holds_when_missing = op in _HOLD_WHEN_MISSING

    def check(value: Any) -> bool:
        if value is _MISSING:
            return holds_when_missing
        try:
            return bool(compare(value, arg))
        except TypeError:  # comparing unlike kinds (text with a number): the document does not match
            return False

    return check


def _lookup(doc: document_pb2.Doc, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in ``doc`` (``_MISSING`` when a step is absent or None)."""
    fields: Any = doc.data
    value: Any = _MISSING
    for step in path:
        if fields is None or step not in fields:
            return _MISSING
        node = fields[step]
        kind = node.WhichOneof("content")
        if kind is None:
            return _MISSING
        if kind == "doc":
            fields, value = node.doc.data, node.doc
        elif kind == "dict":
            fields, value = node.dict.data, node.dict
        else:
            fields, value = None, _node_value(node, kind)
    if isinstance(value, document_pb2.Doc | document_pb2.DictOfAny):
        return {key: _node_value(node, node.WhichOneof("content")) for key, node in value.data.items()}
    return value


def _node_value(node: document_pb2.Node, kind: str | None) -> Any:
    """A node's value as plain Python: scalars as such, lists and dicts element by element."""
    if kind is None:
        return _MISSING
    if kind in ("list", "set", "tuple"):
        return [_node_value(item, item.WhichOneof("content")) for item in getattr(node, kind).data]
    if kind in ("dict", "doc"):
        inner = getattr(node, kind).data
        return {key: _node_value(item, item.WhichOneof("content")) for key, item in inner.items()}
    if kind == "doc_array":
        return [
            {key: _node_value(item, item.WhichOneof("content")) for key, item in doc.data.items()}
            for doc in node.doc_array.docs
        ]
    if kind == "ndarray":
        return _MISSING  # tensors are not compared
    return getattr(node, kind)
