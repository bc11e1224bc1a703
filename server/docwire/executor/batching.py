"""``@dynamic_batching``: group the requests of many callers into one call of an endpoint method.

The decorator only records a ``BatchingPolicy`` on the method (which stays an ordinary
function, callable in a unit test); the worker's runtime does the grouping (see
``docwire.runtime.batching``). ``uses_dynamic_batching`` in ``Flow.add`` / YAML gives
policies per endpoint from outside the class and wins over the decorator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from docwire_contract.conventions import normalize_endpoint

__all__ = [
    "BatchingPolicy",
    "batching_of",
    "batching_policies",
    "check_scheduling",
    "dynamic_batching",
    "policy_from_mapping",
]

_POLICY_ATTR = "__docwire_batching__"

F = TypeVar("F", bound=Callable[..., Any])

#: The keys a ``uses_dynamic_batching`` entry may hold (Jina's names).
POLICY_KEYS: Final = frozenset({"preferred_batch_size", "timeout", "max_batch_size"})


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchingPolicy:
    """How requests to one endpoint are grouped.

    Attributes:
        preferred_batch_size: a batch is run as soon as it holds this many documents.
        timeout: milliseconds a batch waits, from its first request, for more before it runs anyway.
        max_batch_size: the most documents one call receives (None: no limit). A request is never split:
            one larger than this runs alone.
    """

    preferred_batch_size: int
    timeout: float = 10_000
    max_batch_size: int | None = None

    def __post_init__(self) -> None:
        if self.preferred_batch_size < 1:
            raise ValueError(f"preferred_batch_size must be at least 1, not {self.preferred_batch_size}")
        if self.timeout < 0:
            raise ValueError(f"timeout must be zero or more milliseconds, not {self.timeout}")
        if self.max_batch_size is not None and self.max_batch_size < self.preferred_batch_size:
            raise ValueError(
                f"max_batch_size ({self.max_batch_size}) must be at least preferred_batch_size "
                f"({self.preferred_batch_size})"
            )


def dynamic_batching(
    *, preferred_batch_size: int, timeout: float = 10_000, max_batch_size: int | None = None
) -> Callable[[F], F]:
    """Lets the runtime group requests to this endpoint method into one call.

    Requests from many callers to one replica wait (up to ``timeout`` ms from the first) until
    ``preferred_batch_size`` documents are gathered; the method then runs once on all of them and
    each request gets its own documents back, in order. Only requests with equal ``parameters``
    (and call metadata) are grouped. The method must return None (documents changed in place) or
    exactly one document per input document. An exception it raises is the reply of every request
    in the batch. Use it above or below ``@requests``.

    Args:
        preferred_batch_size: documents that make a batch run at once.
        timeout: milliseconds the first request of a batch waits for others (Jina's default: 10,000).
        max_batch_size: the most documents one call receives (None: no limit).
    """
    policy = BatchingPolicy(preferred_batch_size=preferred_batch_size, timeout=timeout, max_batch_size=max_batch_size)

    def mark(fn: F) -> F:
        setattr(fn, _POLICY_ATTR, policy)
        return fn

    return mark


def batching_of(fn: object) -> BatchingPolicy | None:
    """The policy ``@dynamic_batching`` put on ``fn``, if any."""
    policy = getattr(fn, _POLICY_ATTR, None)
    return policy if isinstance(policy, BatchingPolicy) else None


def policy_from_mapping(endpoint: str, entry: Any) -> BatchingPolicy:
    """One ``uses_dynamic_batching`` entry (``{"preferred_batch_size": 8, "timeout": 10}``) as a policy.

    Raises:
        ValueError: the entry is not a mapping of the known keys with valid values; the message names the endpoint.
    """
    if not isinstance(entry, Mapping):
        raise ValueError(f"uses_dynamic_batching[{endpoint!r}] must be a mapping, not {type(entry).__name__}")
    unknown = sorted(set(entry) - POLICY_KEYS)
    if unknown:
        raise ValueError(
            f"uses_dynamic_batching[{endpoint!r}]: unknown keys {unknown} (known: {', '.join(sorted(POLICY_KEYS))})"
        )
    if "preferred_batch_size" not in entry:
        raise ValueError(f"uses_dynamic_batching[{endpoint!r}] needs preferred_batch_size")
    try:
        return BatchingPolicy(**entry)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"uses_dynamic_batching[{endpoint!r}]: {exc}") from None


def batching_policies(
    methods: Mapping[str, Callable[..., Any]],
    generators: frozenset[str],
    overrides: Mapping[str, Any],
) -> dict[str, BatchingPolicy]:
    """Endpoint -> policy for an executor: its methods' decorators, then ``uses_dynamic_batching`` over them.

    Args:
        methods: endpoint -> the function serving it.
        generators: the endpoints served by generator (streaming) methods, which cannot be batched.
        overrides: ``uses_dynamic_batching``: endpoint -> policy mapping.

    Raises:
        ValueError: an override names an endpoint the executor does not have, or a streaming one.
    """
    policies = {endpoint: p for endpoint, fn in methods.items() if (p := batching_of(fn)) is not None}
    for raw_endpoint, entry in overrides.items():
        endpoint = normalize_endpoint(str(raw_endpoint))
        if endpoint not in methods:
            known = ", ".join(sorted(methods)) or "(none)"
            raise ValueError(
                f"uses_dynamic_batching names endpoint {endpoint!r}, which is not served; endpoints: {known}"
            )
        policies[endpoint] = policy_from_mapping(endpoint, entry)
    streaming = sorted(set(policies) & generators)
    if streaming:
        raise ValueError(f"dynamic batching cannot apply to streaming (generator) endpoints: {', '.join(streaming)}")
    return policies


def check_scheduling(executor: str, max_concurrency: Any, uses_dynamic_batching: Any) -> None:
    """Checks an executor's ``max_concurrency`` and ``uses_dynamic_batching`` before anything starts.

    Which endpoints exist is known only once the class is loaded (in the worker), so only the shapes
    are checked here.

    Raises:
        ValueError: a value is invalid; the message names the executor.
    """
    if max_concurrency is not None and (
        isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1
    ):
        raise ValueError(
            f"executor {executor!r}: max_concurrency must be a whole number of at least 1, not {max_concurrency!r}"
        )
    if not isinstance(uses_dynamic_batching, Mapping):
        raise ValueError(
            f"executor {executor!r}: uses_dynamic_batching must map endpoints to policies, "
            f"not {type(uses_dynamic_batching).__name__}"
        )
    for endpoint, entry in uses_dynamic_batching.items():
        try:
            policy_from_mapping(str(endpoint), entry)
        except ValueError as exc:
            raise ValueError(f"executor {executor!r}: {exc}") from None
