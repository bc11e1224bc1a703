"""Document plans: how each document class is decoded, built once per class (``plan_of``).

The node reader (``_raw``) lives here too: it decodes a nested document through its
class' plan, and a plan's field decoders call it.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any, Final, cast, get_origin

import numpy as np
from docarray import DocList
from docarray.base_doc import AnyDoc
from docarray.base_doc.doc import BaseDocWithoutId
from docarray.typing import ID, NdArray
from docarray.typing.proto_register import _PROTO_TYPE_NAME_TO_CLASS
from pydantic import BaseModel, ValidationError

from docwire_contract.codec._fields import (
    EMPTY_CONTAINER_NODES,
    EMPTY_NODE,
    FACTORY,
    MODEL_SLOTS,
    PYDANTIC,
    SHARED,
    absent_value,
    accepts_none,
    attribute_setter,
    fast_tensor_class,
    field_context,
    numpy_tensor_type_names,
    uniform_kind,
)
from docwire_contract.codec._problems import (
    FieldError,
    PydanticNeededError,
    describe_type,
    inherits,
    name_of_type,
    strip_optional,
    wrap_validation,
)
from docwire_contract.codec._values import (
    DTYPES,
    NEW_ARRAY,
    Coercer,
    ValueContext,
    builds_directly,
    coercer_for,
    decode_tensor_message,
    doc_list_origin,
    from_registry,
    needs_validation,
)
from docwire_contract.codec._wire import Node
from docwire_contract.v1 import document_pb2

# The names this module offers the codec's other modules (its internal interface).
__all__ = ["TypedPlan", "plan_of"]

_Decoder = Callable[[Node], Any]


def _raw_doc(node: Node, context: ValueContext) -> Any:
    doc_type = context.doc_type
    if isinstance(doc_type, type) and issubclass(doc_type, BaseDocWithoutId):
        return plan_of(doc_type).decode(node.doc)
    raise FieldError(f"expects {describe_type(context.declared)}, got a document")


def _raw_doc_list(node: Node, context: ValueContext) -> Any:
    list_type = context.doc_list_type
    cls = doc_list_origin(list_type)
    if cls is None:
        raise FieldError(f"expects {describe_type(context.declared)}, got a list of documents")
    message = node.doc_array
    if not issubclass(cls, DocList) or not inherits(cls, "from_protobuf", DocList):
        try:
            return cls.from_protobuf(message)
        except (ValueError, TypeError, AttributeError) as exc:
            raise FieldError(f"cannot be read as {name_of_type(list_type)}: {exc}") from exc
    plan = plan_of(cls.doc_type)
    docs = []
    for position, doc in enumerate(message.docs):
        try:
            docs.append(plan.decode(doc))
        except FieldError as issue:
            issue.at_item(position)
            raise
    return cls(docs, validate_input_docs=False)


def _raw_items(container: document_pb2.ListOfAny, context: ValueContext) -> list[Any]:
    item = context.item
    values = []
    for position, node in enumerate(container.data):
        try:
            values.append(_raw(node, item))
        except FieldError as issue:
            issue.at_item(position)
            raise
    return values


def _raw_set(node: Node, context: ValueContext) -> Any:
    values = _raw_items(node.set, context)
    try:
        return set(values)
    except TypeError as exc:
        raise FieldError(f"holds a set with an item that cannot be in a set: {exc}") from exc


def _raw_dict(node: Node, context: ValueContext) -> Any:
    data = node.dict.data
    values: dict[str, Any] = {}
    if not data:
        return values
    value_context = context.value
    # Keys, then look-ups: a protobuf map's items() is a pure-Python view, far slower.
    for key in data:
        try:
            values[key] = _raw(data[key], value_context)
        except FieldError as issue:
            issue.at_item(key)
            raise
    return values


_RAW: Final[dict[str | None, Callable[[Node, ValueContext], Any]]] = {
    "text": lambda node, context: node.text,
    "integer": lambda node, context: node.integer,
    "float": lambda node, context: node.float,
    "boolean": lambda node, context: node.boolean,
    "blob": lambda node, context: node.blob,
    "ndarray": lambda node, context: decode_tensor_message(node.ndarray, NdArray),
    "doc": _raw_doc,
    "doc_array": _raw_doc_list,
    "list": lambda node, context: _raw_items(node.list, context),
    "set": _raw_set,
    "tuple": lambda node, context: tuple(_raw_items(node.tuple, context)),
    "dict": _raw_dict,
    None: lambda node, context: None,
}


def _raw(node: Node, context: ValueContext) -> Any:
    """docarray's ``_get_content_from_node_proto``: the value a node holds, before validation."""
    kind = node.WhichOneof("content")
    if node.HasField("type"):
        type_name = node.type
        cls = _PROTO_TYPE_NAME_TO_CLASS.get(type_name)
        if cls is not None:
            return from_registry(cls, type_name, kind, node)
        if kind not in ("doc", "doc_array", "ndarray", None):
            raise FieldError(f"has type {type_name!r}, which no installed docarray class reads")
    return _RAW[kind](node, context)


# ------------------------------------------------------------------------ doc plans


class _Plan:
    """How to decode one document class."""

    def decode(self, message: document_pb2.Doc) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


# Model settings that change what pydantic makes of a value this module passes as is.
_VALUE_CHANGING_CONFIG: Final = (
    "str_strip_whitespace",
    "str_to_lower",
    "str_to_upper",
    "str_max_length",
    "str_min_length",
    "validate_default",
)
_PROTOBUF_HOOKS: Final = (
    "from_protobuf",
    "_get_content_from_node_proto",
    "_get_field_annotation",
    "_get_field_annotation_array",
    "_get_field_inner_type",
)


class _DelegatedPlan(_Plan):
    """A class that customises docarray's protobuf hooks: docarray decodes it."""

    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls

    def decode(self, message: document_pb2.Doc) -> Any:
        try:
            return self.cls.from_protobuf(message)
        except ValidationError as exc:
            raise wrap_validation(exc, self.cls, None) from exc
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            issue = FieldError(f"cannot decode the document: {exc}")
            issue.owner = self.cls.__name__
            raise issue from exc


class _AnyDocPlan(_Plan):
    """``AnyDoc``: every field, its value as the node alone describes it."""

    def __init__(self) -> None:
        fields = AnyDoc.model_fields
        self.new_id = cast(Callable[[], Any], fields["id"].default_factory)
        # Fields AnyDoc declares (only ``id``) read lists through the declared type;
        # all others through AnyDoc itself, as docarray does.
        self.declared = {name: field_context(AnyDoc, name) for name in fields}
        self.undeclared = ValueContext(AnyDoc, AnyDoc, DocList, AnyDoc, None)

    def decode(self, message: document_pb2.Doc) -> Any:
        # AnyDoc(**fields) is AnyDoc() (a fresh id, nothing in fields_set) updated with fields.
        values: dict[str, Any] = {"id": None}
        has_id = False
        data = message.data
        for name in data:  # not items(): see _raw_dict
            context = self.declared.get(name, self.undeclared)
            try:
                values[name] = _raw(data[name], context)
            except FieldError as issue:
                issue.at_field(name, AnyDoc)
                raise
            has_id = has_id or name == "id"
        if not has_id:
            values["id"] = self.new_id()
        doc = AnyDoc.__new__(AnyDoc)
        _set = object.__setattr__
        _set(doc, "__dict__", values)
        _set(doc, "__pydantic_fields_set__", set())
        _set(doc, "__pydantic_extra__", None)
        _set(doc, "__pydantic_private__", None)
        return doc


def _field_decoder(annotation: Any, context: ValueContext, coerce: Coercer) -> _Decoder:
    """Field name -> decoder: a fast path for the common kinds, docarray's rules otherwise."""

    tp = strip_optional(annotation)[0]
    none_is_valid = accepts_none(annotation, coerce)

    def decode(node: Node) -> Any:
        # _raw, inlined: this runs for every field without a faster path below.
        if none_is_valid and node == EMPTY_NODE:
            return None
        kind = node.WhichOneof("content")
        if node.HasField("type"):
            return coerce(_raw(node, context))
        if kind is None and none_is_valid:
            return None
        return coerce(_RAW[kind](node, context))

    if tp is str and coerce is not needs_validation:

        def decode_text(node: Node) -> Any:
            # Non-empty text means the content is text; the type must still be unset.
            text = node.text
            if text and not node.HasField("type"):
                return text
            return decode(node)

        return decode_text
    if tp is ID and coerce is not needs_validation:

        def decode_id(node: Node) -> Any:
            if node.type == "id":
                text = node.text
                if text:
                    return ID(text)
            return decode(node)

        return decode_id
    origin = get_origin(tp) or tp
    if (origin is dict or origin is list) and coerce is not needs_validation:
        empty_node, new_container = EMPTY_CONTAINER_NODES[origin]

        def decode_container(node: Node) -> Any:
            if node == empty_node:
                return coerce(new_container())
            return decode(node)

        return decode_container
    target = fast_tensor_class(tp) if coerce is not needs_validation else None
    if target is not None:
        # Any numpy tensor docarray would read (by its ``type``) and then validate into
        # the declared class ends up as a tensor of the same bytes of class ``target``.
        type_names = numpy_tensor_type_names()
        if builds_directly(target):

            def decode_tensor(node: Node) -> Any:
                if node.type in type_names:
                    dense = node.ndarray.dense
                    buffer = dense.buffer
                    dtype = DTYPES.get(dense.dtype)
                    if buffer and dtype is not None:
                        shape = dense.shape
                        if len(shape) == 1:
                            length = shape[0]
                            if length * dtype.itemsize == len(buffer):
                                return NEW_ARRAY(target, (length,), dtype, bytearray(buffer))
                        else:
                            dims = tuple(shape)
                            if prod(dims) * dtype.itemsize == len(buffer):
                                return NEW_ARRAY(target, dims, dtype, bytearray(buffer))
                # Everything else, malformed tensors and None included, takes the careful path.
                return decode(node)

            return decode_tensor

        def decode_tensor_view(node: Node) -> Any:
            if node.type in type_names:
                dense = node.ndarray.dense
                buffer = dense.buffer
                dtype = DTYPES.get(dense.dtype)
                if buffer and dtype is not None:
                    shape = dense.shape
                    try:
                        array = np.frombuffer(bytearray(buffer), dtype)
                        if len(shape) != 1 or shape[0] != len(array):
                            array = array.reshape(tuple(shape))
                    except ValueError:
                        return decode(node)
                    return array.view(target)
            return decode(node)

        return decode_tensor_view
    return decode


class TypedPlan(_Plan):
    """A schema'd document class: one decoder per declared field, built once.

    Decoding starts from a copy of ``template`` (every field in declaration order,
    shared defaults already in place), overwrites the fields the message holds and
    fills the absent ones that need a fresh default. A message holding few of the
    declared fields is read key by key; a fuller one field by field.
    """

    def __init__(self, cls: Any) -> None:
        self.cls = cls
        config = cls.model_config
        decorators = cls.__pydantic_decorators__
        has_validators = any(
            (
                decorators.validators,
                decorators.field_validators,
                decorators.root_validators,
                decorators.model_validators,
            )
        )
        fields = cls.model_fields
        aliased = any(info.alias or info.validation_alias for info in fields.values())
        # Built without pydantic only when pydantic could not change what we pass in.
        self.construct = not (
            has_validators
            or aliased
            or cls.__init__ is not BaseModel.__init__
            or any(config.get(key) for key in _VALUE_CHANGING_CONFIG)
            or config.get("revalidate_instances", "never") != "never"
            or config.get("allow_inf_nan", True) is False
        )
        self.extra_allowed = config.get("extra") == "allow"
        self.post_init = bool(cls.__pydantic_post_init__)
        # What building a document without pydantic takes, looked up once.
        self.new = cls.__new__
        self.setters = tuple(attribute_setter(cls, name) for name in MODEL_SLOTS)
        self.fields: tuple[tuple[str, _Decoder, bool], ...] = ()
        self.decoders: dict[str, _Decoder] = {}
        self.names: frozenset[str] = frozenset(fields)
        self.template: dict[str, Any] = {}
        # Per field, how a uniform batch's payload becomes its value (see uniform_kind).
        self.uniform: dict[str, tuple[str | None, Any]] = {}
        factories: list[tuple[str, Callable[[], Any]]] = []
        required: list[str] = []
        for name, info in fields.items():
            annotation = info.annotation
            coerce = coercer_for(annotation, bool(info.metadata))
            decoder = _field_decoder(annotation, field_context(cls, name), coerce)
            self.uniform[name] = uniform_kind(annotation, coerce)
            how, default = absent_value(info)
            # A field whose default is None is often sent as None: the loop checks for an
            # empty node itself, sparing the call. (Others, ``id`` say, rarely are.)
            likely_none = how == SHARED and default is None and accepts_none(annotation, coerce)
            self.fields += ((name, decoder, likely_none),)
            self.decoders[name] = decoder
            self.template[name] = default if how == SHARED else None
            if how == FACTORY:
                factories.append((name, default))
            elif how == PYDANTIC:
                required.append(name)
        self.factories = tuple(factories)
        self.tensor_type_names = numpy_tensor_type_names()
        self.required = tuple(required)
        # Reading the message key by key pays when it holds at most a third of the fields.
        self.sparse_below = len(fields) // 3 + 1

    def decode(self, message: document_pb2.Doc) -> Any:
        # Only declared fields are read. Fields the message has and the class does not
        # declare are dropped without a word, as docarray's from_protobuf drops them
        # (it reads them only for classes with _load_extra_fields_from_protobuf, which
        # are decoded by docarray itself, or AnyDoc, which has its own plan).
        data = message.data
        values = self.template.copy()
        pending = False  # a value only pydantic can judge
        fields_set: set[str]
        if len(data) < self.sparse_below:
            decoders = self.decoders
            present = []
            for name in data:
                decoder = decoders.get(name)
                if decoder is not None:
                    try:
                        values[name] = decoder(data[name])
                    except PydanticNeededError as needed:
                        values[name] = needed.value
                        pending = True
                    except Exception as exc:
                        # Fail as reading field by field would: on the first field, in
                        # declaration order, that fails.
                        self._raise_first_error(data)
                        if isinstance(exc, FieldError):
                            exc.at_field(name, self.cls)
                        raise
                    present.append(name)
            fields_set = set(present)
        else:
            missing = None
            for name, decoder, likely_none in self.fields:
                if name in data:
                    node = data[name]
                    if likely_none and node == EMPTY_NODE:
                        values[name] = None
                        continue
                    try:
                        values[name] = decoder(node)
                    except PydanticNeededError as needed:
                        values[name] = needed.value
                        pending = True
                    except FieldError as issue:
                        issue.at_field(name, self.cls)
                        raise
                elif missing is None:
                    missing = [name]
                else:
                    missing.append(name)
            fields_set = set(self.names)
            if missing is not None:
                fields_set.difference_update(missing)
        complete = len(fields_set) == len(values)
        if pending or not self.construct or not (complete or fields_set.issuperset(self.required)):
            return self._validate(values, fields_set)
        if not complete:
            for name, factory in self.factories:
                if name not in fields_set:
                    values[name] = factory()
        cls = self.cls
        doc = self.new(cls)
        set_dict, set_fields_set, set_extra, set_private = self.setters
        set_dict(doc, values)
        set_fields_set(doc, fields_set)
        set_extra(doc, {} if self.extra_allowed else None)
        set_private(doc, None)
        if self.post_init:
            doc.model_post_init(None)
        return doc

    def _raise_first_error(self, data: Any) -> None:
        """Decode the message's declared fields in order; raise what the first failing one raises."""
        for name, decoder, _ in self.fields:
            if name in data:
                try:
                    decoder(data[name])
                except FieldError as issue:
                    issue.at_field(name, self.cls)
                    raise
                except PydanticNeededError:
                    pass

    def _validate(self, values: dict[str, Any], fields_set: set[str]) -> Any:
        """docarray's last step, ``cls(**fields)`` with the fields the message holds: pydantic decides."""
        if len(fields_set) != len(values):
            values = {name: value for name, value in values.items() if name in fields_set}
        try:
            return self.cls(**values)
        except ValidationError as exc:
            raise wrap_validation(exc, self.cls, values) from exc
        except (ValueError, TypeError, AttributeError, KeyError, AssertionError) as exc:
            issue = FieldError(f"rejects the document: {exc}")
            issue.owner = self.cls.__name__
            raise issue from exc


_PLANS: dict[type[Any], _Plan] = {}


def plan_of(cls: type[Any]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _build_plan(cls)
        _PLANS[cls] = plan
    return plan


def _build_plan(cls: type[Any]) -> _Plan:
    if not (isinstance(cls, type) and issubclass(cls, BaseDocWithoutId)):
        raise TypeError(f"doc_type must be a docarray document class, got {cls!r}")
    if cls is AnyDoc:
        return _AnyDocPlan()
    overridden = not all(inherits(cls, hook, BaseDocWithoutId) for hook in _PROTOBUF_HOOKS)
    if overridden or cls.__pydantic_root_model__ or cls.model_config.get("_load_extra_fields_from_protobuf"):
        return _DelegatedPlan(cls)
    return TypedPlan(cls)
