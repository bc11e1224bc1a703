"""Which executors see a request and with which parameters: target_executor and exec__param scoping."""

from __future__ import annotations

import pytest

from docwire.gateway.router import ExecutorNode, plan_route, scope_parameters
from docwire_contract.errors import BadRequest, EndpointNotFound

CHAIN = [
    ExecutorNode("fooExecutor", ("a:1",), frozenset({"/default"})),
    ExecutorNode("barExecutor", ("b:1",), frozenset({"/index"})),
    ExecutorNode("bazExecutor", ("c:1",), frozenset({"/index", "/search"})),
]


@pytest.mark.parametrize(
    ("target", "endpoint", "expected"),
    [
        (None, "/index", ["fooExecutor", "barExecutor", "bazExecutor"]),
        ("bar", "/index", ["barExecutor"]),  # re.match: a prefix match
        ("bar*", "/index", ["barExecutor", "bazExecutor"]),  # a regex, not a glob: "ba" then any r's
        ("Executor", "/index", []),  # re.match anchors at the start
        ("foo|baz", "/search", ["fooExecutor", "bazExecutor"]),
    ],
)
def test_target_executor_uses_re_match(target: str | None, endpoint: str, expected: list[str]) -> None:
    if not expected:
        with pytest.raises(EndpointNotFound, match="matches no executor"):
            plan_route(CHAIN, endpoint, target, None)
        return
    route = plan_route(CHAIN, endpoint, target, None)
    assert [node.name for node in route.executors] == expected


def test_unknown_endpoint_lists_the_valid_ones() -> None:
    with pytest.raises(EndpointNotFound, match=r"'/nope'.*/index, /search"):
        plan_route(CHAIN[1:], "/nope", None, None)


def test_executors_that_do_not_serve_the_endpoint_are_skipped() -> None:
    assert [n.name for n in plan_route(CHAIN, "/search", None, None).executors] == ["fooExecutor", "bazExecutor"]
    assert [n.name for n in plan_route(CHAIN[1:], "/search", None, None).executors] == ["bazExecutor"]


def test_a_pass_through_flow_returns_requests_as_they_came() -> None:
    route = plan_route([ExecutorNode("plain", ("a:1",)), CHAIN[1]], "/anything", None, None)
    assert route.executors == ()


def test_invalid_regex_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="not a valid regular expression"):
        plan_route(CHAIN, "/index", "(", None)


def test_scoping_is_only_planned_when_a_key_names_an_executor() -> None:
    assert not plan_route(CHAIN, "/index", None, {"top_k": 3, "other__x": 1}).scoped
    assert plan_route(CHAIN, "/index", None, {"barExecutor__top_k": 3}).scoped


def test_scope_parameters_gives_each_executor_its_own_keys() -> None:
    names = {"exec1", "exec2"}
    params = {"exec1__traversal_path": "@r", "exec2__traversal_path": "@c", "shared": 1, "unknown__key": 2}
    assert scope_parameters(params, "exec1", names) == {"traversal_path": "@r", "shared": 1, "unknown__key": 2}
    assert scope_parameters(params, "exec2", names) == {"traversal_path": "@c", "shared": 1, "unknown__key": 2}
    assert scope_parameters({"x": 1, "exec1__x": 2}, "exec1", names) == {"x": 2}
