"""Everything one ``post`` call is told, as one frozen config (``post`` keeps the seeds' keyword names)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypedDict

from docwire_client.callbacks import Callback, Callbacks
from docwire_client.retry import RetryPolicy

__all__ = ["COMPRESSIONS", "Metadata", "PostKwargs", "PostOptions", "headers_of"]

#: Call metadata (gRPC headers): a mapping, or pairs as gRPC takes them.
Metadata: TypeAlias = Mapping[str, str] | Sequence[tuple[str, str]]

#: What ``compression=`` accepts (any case), besides None.
COMPRESSIONS = ("gzip", "deflate")


@dataclass(frozen=True, slots=True, kw_only=True)
class PostOptions:
    """The settings of one ``post``; see ``AsyncClient.post`` for each one's meaning.

    Raises:
        ValueError: a setting is out of range or unknown.
    """

    parameters: Mapping[str, Any] | None = None
    target_executor: str | None = None
    request_size: int = 100
    return_responses: bool = False
    return_type: Any = None
    results_in_order: bool = False
    prefetch: int = 100
    timeout: float | None = None
    stream: bool = True
    compression: str | None = None
    metadata: Metadata | None = None
    on_done: Callback | None = None
    on_error: Callback | None = None
    on_always: Callback | None = None
    continue_on_error: bool = False
    max_attempts: int = 1
    initial_backoff: float = 0.5
    max_backoff: float = 2.0
    backoff_multiplier: float = 1.5
    show_progress: bool = False
    retry: RetryPolicy = field(init=False)
    callbacks: Callbacks = field(init=False)
    headers: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.request_size < 1:
            raise ValueError(f"request_size must be at least 1, not {self.request_size}")
        if self.prefetch < 1:
            raise ValueError(f"prefetch must be at least 1, not {self.prefetch}")
        if self.compression is not None and self.compression.lower() not in COMPRESSIONS:
            raise ValueError(f"compression must be None or one of {COMPRESSIONS}, not {self.compression!r}")
        retry = RetryPolicy(
            max_attempts=self.max_attempts,
            initial_backoff=self.initial_backoff,
            max_backoff=self.max_backoff,
            backoff_multiplier=self.backoff_multiplier,
        )
        callbacks = Callbacks(
            on_done=self.on_done,
            on_error=self.on_error,
            on_always=self.on_always,
            continue_on_error=self.continue_on_error,
        )
        object.__setattr__(self, "retry", retry)
        object.__setattr__(self, "callbacks", callbacks)
        object.__setattr__(self, "headers", headers_of(self.metadata))


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


class PostKwargs(TypedDict, total=False):
    """The keyword arguments of ``post``, for the methods that pass them on (``index``, ``search``...)."""

    parameters: Mapping[str, Any] | None
    target_executor: str | None
    request_size: int
    return_responses: bool
    return_type: Any
    results_in_order: bool
    prefetch: int
    timeout: float | None
    stream: bool
    compression: str | None
    metadata: Metadata | None
    on_done: Callback | None
    on_error: Callback | None
    on_always: Callback | None
    continue_on_error: bool
    max_attempts: int
    initial_backoff: float
    max_backoff: float
    backoff_multiplier: float
    show_progress: bool
