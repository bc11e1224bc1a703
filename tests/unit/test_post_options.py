"""``post``'s keywords are defined once (``options.py``): the TypedDicts, the signatures and the routing agree with
the fields that define them, and building the options behaves as when every keyword was written out."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable

import numpy as np
import pytest

from docwire_client import AsyncClient, Client, Response
from docwire_client.callbacks import Callbacks
from docwire_client.options import (
    KEYWORDS,
    CallbackKwargs,
    PostKwargs,
    PostOptions,
    RequestKwargs,
    SendPolicy,
    UnshapedKwargs,
    check_keywords,
)
from docwire_client.retry import RetryPolicy

GROUPS = {"send": SendPolicy, "retry": RetryPolicy, "callbacks": Callbacks}

#: The 20 keywords seed 000 and the README document for ``post``.
SEED_KEYWORDS = {
    "parameters",
    "target_executor",
    "request_size",
    "return_responses",
    "return_type",
    "results_in_order",
    "prefetch",
    "timeout",
    "stream",
    "compression",
    "metadata",
    "on_done",
    "on_error",
    "on_always",
    "continue_on_error",
    "max_attempts",
    "initial_backoff",
    "max_backoff",
    "backoff_multiplier",
    "show_progress",
}


def _definitions() -> dict[str, tuple[object, object]]:
    """Each keyword's (type, default), read from the field that defines it; a name defined twice fails."""
    found: dict[str, tuple[object, object]] = {}
    own = [f for f in dataclasses.fields(PostOptions) if f.init and f.name not in GROUPS]
    for kind, members in [(PostOptions, own), *((kind, dataclasses.fields(kind)) for kind in GROUPS.values())]:
        hints = typing.get_type_hints(kind)
        for member in members:
            assert member.name not in found, f"{member.name} is defined twice"
            found[member.name] = (hints[member.name], member.default)
    return found


def test_the_keywords_are_the_seeds_and_each_is_defined_once() -> None:
    assert set(_definitions()) == SEED_KEYWORDS == KEYWORDS
    assert {f.name for f in dataclasses.fields(PostOptions) if f.init} >= set(GROUPS)


def test_the_typeddicts_name_each_keyword_with_the_type_of_its_field() -> None:
    types = {name: hint for name, (hint, _) in _definitions().items()}
    assert typing.get_type_hints(PostKwargs) == types
    # The overloads' pieces split the keywords: what never changes the result, the callbacks, the result's shape.
    request, callbacks = set(typing.get_type_hints(RequestKwargs)), set(typing.get_type_hints(CallbackKwargs))
    assert not request & callbacks
    assert request | callbacks == set(typing.get_type_hints(UnshapedKwargs))
    assert KEYWORDS - request - callbacks == {"return_responses", "return_type"}


@pytest.mark.parametrize("method", [Client.post, AsyncClient.post], ids=["Client", "AsyncClient"])
def test_post_shows_every_keyword_with_its_default(method: Callable[..., object]) -> None:
    params = inspect.signature(method).parameters
    assert list(params)[:3] == ["self", "on", "inputs"]
    keywords = {name: p.default for name, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert keywords == {name: default for name, (_, default) in _definitions().items()}


def test_each_keyword_reaches_its_group() -> None:
    def done(response: Response[typing.Any]) -> None:
        pass

    options = PostOptions.of(
        {"parameters": {"k": 1}, "request_size": 5, "stream": False, "max_attempts": 3, "on_done": done}
    )
    assert options.parameters == {"k": 1}
    assert options.send == SendPolicy(request_size=5, stream=False)
    assert options.retry == RetryPolicy(max_attempts=3)
    assert options.callbacks == Callbacks(on_done=done)
    assert PostOptions.of({}) == PostOptions()


def test_settings_are_checked_in_the_order_they_always_were() -> None:
    with pytest.raises(ValueError, match="request_size must be at least 1, not 0"):
        PostOptions.of({"request_size": 0, "max_attempts": 0, "metadata": {"grpc-x": "1"}})
    with pytest.raises(ValueError, match="compression must be None or one of"):
        PostOptions.of({"compression": "zip", "max_attempts": 0})
    with pytest.raises(ValueError, match="max_attempts must be at least 1, not 0"):
        PostOptions.of({"max_attempts": 0, "metadata": {"grpc-x": "1"}})
    with pytest.raises(ValueError, match="metadata key 'grpc-x' is reserved"):
        PostOptions.of({"metadata": {"grpc-x": "1"}})


class _Written:
    """What Python says when the keywords are written out."""

    def post(self, on: str, inputs: object = None, *, request_size: int = 100) -> None:
        pass


def test_an_unknown_keyword_raises_what_python_raises() -> None:
    with pytest.raises(TypeError) as written:
        _Written().post("/", bogus=1)  # type: ignore[call-arg]
    expected = str(written.value).replace("_Written.post", "Client.post")
    with pytest.raises(TypeError) as ours:
        check_keywords("Client.post", {"request_size": 1, "bogus": 1, "other": 2})
    assert str(ours.value) == expected


async def test_the_async_post_refuses_keywords_when_called_and_checks_values_when_iterated() -> None:
    client = AsyncClient(host="grpc://127.0.0.1:1")  # never connects: every call here fails before sending
    with pytest.raises(TypeError, match=r"^AsyncClient\.post\(\) got an unexpected keyword argument 'bogus'$"):
        client.post("/", bogus=1)  # type: ignore[call-overload]
    replies = client.post("/", request_size=0)
    with pytest.raises(ValueError, match="request_size must be at least 1"):
        await anext(replies)
    await client.close()


def test_the_sync_post_refuses_keywords_and_values_when_called() -> None:
    client = Client(host="grpc://127.0.0.1:1")  # never connects: every call here fails before sending
    with pytest.raises(TypeError, match=r"^Client\.post\(\) got an unexpected keyword argument 'bogus'$"):
        client.post("/", bogus=1)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="prefetch must be at least 1"):
        client.post("/", prefetch=0)


def test_parameters_travel_as_json_numpy_values_included() -> None:
    """Every transport sends ``parameters`` as JSON (a protobuf Struct, or a JSON body): numpy numbers and arrays
    become numbers and lists, as pydantic makes other values JSON (numpy failed with protobuf's "Unexpected
    type", or json's "not JSON serializable" over HTTP)."""
    options = PostOptions.of({"parameters": {"top_k": np.int64(3), "weights": np.array([0.5, 0.25]), "pair": (1, 2)}})
    assert options.parameters == {"top_k": 3, "weights": [0.5, 0.25], "pair": [1, 2]}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ([("top_k", 3)], r"^parameters must be a dict \(a JSON object\), not list$"),
        ({"model": object()}, r"^parameters travel as JSON and hold a builtins\.object, which JSON cannot hold"),
    ],
)
def test_parameters_json_cannot_carry_are_refused_before_anything_is_sent(parameters: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        PostOptions.of({"parameters": parameters})  # type: ignore[typeddict-item]
