"""Every setting of ``post``, defined once, and ``post``'s keyword list read from those definitions.

``post`` keeps seed 000's flat keywords (``request_size=10``, ``max_attempts=3``...), and each of them
is defined in exactly one place: a field of ``PostOptions`` or of one of its groups, which holds the
setting's type, default and checks. The groups follow httpx's ``Timeout`` and ``Limits``
(``httpx/_config.py``): frozen settings objects, each about one concern.

- ``SendPolicy`` (here): how the documents are cut into requests and sent;
- ``RetryPolicy`` (``retry.py``): when and how patiently a failed call is tried again;
- ``Callbacks`` (``callbacks.py``): what happens with each reply;
- ``PostOptions`` itself: what every request carries and what ``post`` gives back.

The keyword list (``KEYWORDS``), the signature ``inspect.signature`` and ``help`` show for ``post``
(``with_post_keywords``) and the routing of each keyword to its group (``PostOptions.of``) are read from
those fields. mypy cannot derive a TypedDict from a dataclass, so the TypedDicts at the end name the
keywords again for it; ``tests/unit/test_post_options.py`` fails when they drift from the fields.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import Field, dataclass, field, fields
from typing import Any, Final, TypeAlias, TypedDict

from docarray import BaseDoc, DocList
from typing_extensions import TypeVar

from docwire_client.callbacks import Callback, Callbacks
from docwire_client.retry import RetryPolicy
from docwire_contract.doc_types import Document
from docwire_contract.json_values import json_object

__all__ = [
    "COMPRESSIONS",
    "KEYWORDS",
    "CallbackKwargs",
    "D",
    "Metadata",
    "PostKwargs",
    "PostOptions",
    "RequestKwargs",
    "ReturnType",
    "SendPolicy",
    "UnshapedKwargs",
    "check_keywords",
    "headers_of",
    "with_post_keywords",
]

#: Call metadata (gRPC headers): a mapping, or pairs as gRPC takes them.
Metadata: TypeAlias = Mapping[str, str] | Sequence[tuple[str, str]]

#: What ``return_type=`` accepts besides None: a document class, or ``DocList[X]`` of any document class X.
#: ``DocList`` is bare (``DocList[Any]``) because ``typing.get_type_hints`` cannot evaluate docarray's ``DocList[Any]``.
ReturnType: TypeAlias = type[BaseDoc] | type[DocList]  # type: ignore[type-arg]

#: The document class replies are decoded into, in ``post``'s overloads: ``Document`` when no return_type says.
D = TypeVar("D", bound=BaseDoc, default=Document)

#: What ``compression=`` accepts (any case), besides None.
COMPRESSIONS = ("gzip", "deflate")


@dataclass(frozen=True, slots=True, kw_only=True)
class SendPolicy:
    """How the documents of one ``post`` are cut into requests and sent.

    Attributes:
        request_size: documents per request.
        prefetch: the most requests in flight at once.
        stream: send over one bidi stream (True) or each request as a unary call (False).
        compression: ``"gzip"`` or ``"deflate"`` (any case) for what the client sends, or None.
        results_in_order: hand replies on in input order even when they finish out of order.

    Raises:
        ValueError: a setting is out of range or unknown.
    """

    request_size: int = 100
    prefetch: int = 100
    stream: bool = True
    compression: str | None = None
    results_in_order: bool = False

    def __post_init__(self) -> None:
        if self.request_size < 1:
            raise ValueError(f"request_size must be at least 1, not {self.request_size}")
        if self.prefetch < 1:
            raise ValueError(f"prefetch must be at least 1, not {self.prefetch}")
        if self.compression is not None and self.compression.lower() not in COMPRESSIONS:
            raise ValueError(f"compression must be None or one of {COMPRESSIONS}, not {self.compression!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PostOptions:
    """The settings of one ``post``: what every request carries, what ``post`` gives back, and the groups.

    ``AsyncClient.post`` documents each keyword; ``PostOptions.of`` builds the options from them.

    Raises:
        ValueError: a ``metadata`` key is reserved.
        TypeError: ``parameters`` is not a dict of values JSON can hold (``json_values.json_object``).
    """

    parameters: Mapping[str, Any] | None = None
    target_executor: str | None = None
    timeout: float | None = None
    metadata: Metadata | None = None
    return_responses: bool = False
    return_type: ReturnType | None = None
    show_progress: bool = False
    send: SendPolicy = field(default_factory=SendPolicy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    callbacks: Callbacks = field(default_factory=Callbacks)
    #: ``metadata`` as the transports send it (``headers_of``).
    headers: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", headers_of(self.metadata))
        if self.parameters is not None:  # as every transport sends them: JSON (numpy values as numbers and lists)
            object.__setattr__(self, "parameters", json_object(self.parameters, "parameters"))

    @classmethod
    def of(cls, keywords: PostKwargs) -> PostOptions:
        """The options ``post``'s keywords stand for, each keyword handed to its group (after ``check_keywords``).

        Raises:
            ValueError: a setting is out of range or unknown (the groups' checks first, then metadata's,
                as when every keyword was a field of one class).
        """
        if not keywords:
            return _DEFAULT_OPTIONS  # frozen, groups and all: one serves every post without keywords
        settings: dict[str, Any] = {}
        grouped: dict[str, dict[str, Any]] = {}
        for name, value in keywords.items():
            group = _GROUP_OF[name]
            if group:
                grouped.setdefault(group, {})[name] = value
            else:
                settings[name] = value
        for group, kind in _GROUPS.items():
            if group in grouped:
                settings[group] = kind(**grouped[group])
        return cls(**settings)


def headers_of(metadata: Metadata | None) -> tuple[tuple[str, str], ...]:
    """Metadata as gRPC wants it: lower-case keys, string values."""
    if metadata is None:
        return ()
    pairs = metadata.items() if isinstance(metadata, Mapping) else metadata
    headers = tuple((str(key).lower(), str(value)) for key, value in pairs)
    for key, _ in headers:
        if key.startswith(("grpc-", ":")) or key.endswith("-bin"):
            raise ValueError(f"metadata key {key!r} is reserved (grpc-*, :pseudo) or binary (*-bin)")
    return headers


#: The options of every ``post`` given no keyword (``PostOptions.of``).
_DEFAULT_OPTIONS: Final = PostOptions()

#: The groups of PostOptions, by field name, in the order their checks run.
_GROUPS: Final[dict[str, type[SendPolicy | RetryPolicy | Callbacks]]] = {
    "send": SendPolicy,
    "retry": RetryPolicy,
    "callbacks": Callbacks,
}

#: Each keyword of ``post``, its definition, and the group it belongs to ("" for PostOptions' own fields).
_KEYWORD_FIELDS: Final[tuple[tuple[Field[Any], str], ...]] = (
    *((own, "") for own in fields(PostOptions) if own.init and own.name not in _GROUPS),
    *((member, group) for group, kind in _GROUPS.items() for member in fields(kind)),
)
_GROUP_OF: Final = {definition.name: group for definition, group in _KEYWORD_FIELDS}

#: The keywords of ``post`` (besides ``on`` and ``inputs``), read from the fields that define them.
KEYWORDS: Final = frozenset(_GROUP_OF)


def check_keywords(function: str, keywords: Mapping[str, object]) -> None:
    """Refuses a keyword ``post`` does not take, as Python would had they all been written out.

    Raises:
        TypeError: ``"{function}() got an unexpected keyword argument 'name'"``.
    """
    for name in keywords:
        if name not in _GROUP_OF:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")


_Method = TypeVar("_Method", bound=Callable[..., object])


def with_post_keywords(method: _Method) -> _Method:
    """Shows every keyword of ``post``, with its default, in ``method``'s signature (``help``,
    ``inspect.signature``) in place of its ``**kwargs``, as if they were written out."""
    signature = inspect.signature(method)
    kept = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    keywords = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
        for f, _ in _KEYWORD_FIELDS
    ]
    vars(method)["__signature__"] = signature.replace(parameters=[*kept, *keywords])
    return method


class RequestKwargs(TypedDict, total=False):
    """The keywords of ``post`` that never change what it returns."""

    parameters: Mapping[str, Any] | None
    target_executor: str | None
    timeout: float | None
    metadata: Metadata | None
    show_progress: bool
    request_size: int
    prefetch: int
    stream: bool
    compression: str | None
    results_in_order: bool
    continue_on_error: bool
    max_attempts: int
    initial_backoff: float
    max_backoff: float
    backoff_multiplier: float


class CallbackKwargs(TypedDict, total=False):
    """The callbacks: with any of them set, the sync ``post`` returns None."""

    on_done: Callback | None
    on_error: Callback | None
    on_always: Callback | None


class UnshapedKwargs(RequestKwargs, CallbackKwargs, total=False):
    """Every keyword of ``post`` but the two its overloads tell the shape of the result by."""


class PostKwargs(UnshapedKwargs, total=False):
    """Every keyword of ``post``, for the methods that pass them on (``index``, ``search``...)."""

    return_responses: bool
    return_type: ReturnType | None
