"""The Executor base class: user code whose ``@requests`` methods serve endpoints."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from docwire.executor.decorators import binding_of
from docwire.executor.signature import EndpointSignature, read_signature
from docwire_contract.conventions import DEFAULT_ENDPOINT

__all__ = ["BoundEndpoint", "Executor", "RuntimeArgs"]


@dataclass(frozen=True, slots=True)
class RuntimeArgs:
    """Where this executor instance runs: set by the runtime before ``__init__``.

    Attributes:
        name: the executor's name in its Flow or Deployment.
        replica_id: which replica this process is (0-based).
        shard_id: which shard this process serves (0-based; 0 when unsharded).
        workspace: a directory the executor may write to, if configured.
    """

    name: str = "executor"
    replica_id: int = 0
    workspace: str | None = None
    shard_id: int = 0


@dataclass(frozen=True, slots=True)
class BoundEndpoint:
    """One endpoint of an executor class: the method's name and its signature."""

    endpoint: str
    method_name: str
    signature: EndpointSignature


class Executor:
    """Base class of docwire executors.

    Subclass it and bind methods with ``@requests``. The runtime sets
    ``runtime_args`` (name, replica id) before your ``__init__`` runs, so any
    constructor signature works; ``uses_with`` values arrive as keyword arguments.

    An Executor is also an ordinary class: construct it and call its methods in a
    unit test without any server.
    """

    #: endpoint -> bound method info, collected from ``@requests`` per subclass.
    endpoints: ClassVar[Mapping[str, BoundEndpoint]] = MappingProxyType({})

    runtime_args: RuntimeArgs

    def __new__(cls, *args: Any, **kwargs: Any) -> Executor:
        instance = super().__new__(cls)
        instance.runtime_args = RuntimeArgs(name=cls.__name__)
        return instance

    def __init__(self, **kwargs: Any) -> None:
        # Accept (and ignore) unknown keywords so subclasses can pass **kwargs up.
        pass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[str, BoundEndpoint] = dict(cls.endpoints)
        own: dict[str, str] = {}  # endpoint -> the method of this class bound to it (a subclass may rebind one)
        for attr, value in vars(cls).items():
            binding = binding_of(value)
            if binding is None:
                continue
            signature = read_signature(value, binding)
            for endpoint in binding.endpoints:
                if endpoint in own:
                    raise TypeError(f"{cls.__qualname__} binds {endpoint} to two methods, {own[endpoint]} and {attr}")
                own[endpoint] = attr
                table[endpoint] = BoundEndpoint(endpoint, attr, signature)
        cls.endpoints = MappingProxyType(table)

    @classmethod
    def resolve(cls, endpoint: str) -> BoundEndpoint | None:
        """The method serving ``endpoint``: its own binding, else the default one, else None."""
        return cls.endpoints.get(endpoint) or cls.endpoints.get(DEFAULT_ENDPOINT)

    def method(self, bound: BoundEndpoint) -> Callable[..., Any]:
        """The bound method object for an endpoint of this instance."""
        method: Callable[..., Any] = getattr(self, bound.method_name)
        return method

    @property
    def name(self) -> str:
        """The executor's name in its Flow (its class name outside one)."""
        return self.runtime_args.name

    def close(self) -> None:
        """Called once when the runtime shuts down; override to release resources."""


def instantiate(cls: type[Executor], runtime_args: RuntimeArgs, uses_with: Mapping[str, Any]) -> Executor:
    """Builds an executor with ``runtime_args`` in place before its ``__init__`` runs."""
    instance = cls.__new__(cls)
    instance.runtime_args = runtime_args
    instance.__init__(**uses_with)  # type: ignore[misc]
    return instance
