"""Running a graph plan, with executors played by functions over the ``Send`` seam (no processes)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from docwire.gateway.dag import GraphRequest, run_graph
from docwire.gateway.graph import GraphPlan, Planner
from docwire.gateway.merge import docs_of
from docwire.gateway.router import ExecutorNode
from docwire.gateway.topology import NodeTopology
from docwire_contract.codec import encode_docs
from docwire_contract.doc_types import Document
from docwire_contract.v1 import document_pb2, request_pb2

Behaviour = Callable[[request_pb2.DataRequest], request_pb2.DataRequest]


def _node(name: str, *needs: str, **topology: object) -> ExecutorNode:
    return ExecutorNode(name, ("a:1",), frozenset({"/default"}), NodeTopology(needs=needs, **topology))  # type: ignore[arg-type]


def _request(*docs: Document) -> request_pb2.DataRequest:
    request = request_pb2.DataRequest()
    request.header.exec_endpoint = "/x"
    request.data.docs.CopyFrom(document_pb2.DocList.FromString(encode_docs(docs)))
    return request


def _texts(raw: bytes) -> list[str]:
    return [doc.data["text"].text for doc in docs_of(request_pb2.DataRequest.FromString(raw)).docs]


def _append(suffix: str) -> Behaviour:
    def behave(request: request_pb2.DataRequest) -> request_pb2.DataRequest:
        for doc in request.data.docs.docs:
            doc.data["text"].text += suffix
        return request

    return behave


async def _run(
    nodes: list[ExecutorNode], behaviours: dict[str, Behaviour], request: request_pb2.DataRequest
) -> tuple[bytes, list[str]]:
    calls: list[str] = []

    async def send(name: str, raw: bytes, timeout: float | None, on_path: bool) -> bytes:
        calls.append(name)
        await asyncio.sleep(0)
        return behaviours[name](request_pb2.DataRequest.FromString(raw)).SerializeToString()

    plan = Planner(nodes).plan("/x", None)
    assert isinstance(plan, GraphPlan)
    graph_request = GraphRequest(request, request.SerializeToString(), None, False, set(), None, {})
    return await run_graph(plan, graph_request, send), calls


def test_a_filter_skips_the_executor_and_keeps_every_document_in_its_place() -> None:
    def drop_one(request: request_pb2.DataRequest) -> request_pb2.DataRequest:
        del request.data.docs.docs[0]  # returns fewer documents than it got
        return request

    nodes = [_node("keep", "gateway", when={"text": {"$regex": "^k"}}), _node("dropper", "keep", when={"text": "x"})]
    request = _request(Document(id="1", text="k1"), Document(id="2", text="s"), Document(id="3", text="k3"))
    reply, calls = asyncio.run(_run(nodes, {"keep": _append("!"), "dropper": drop_one}, request))
    assert _texts(reply) == ["k1!", "s", "k3!"]
    assert calls == ["keep"]  # no document passes the dropper's filter: it is not called


def test_an_executor_returning_fewer_documents_gets_the_skipped_ones_after_its_own() -> None:
    def drop_first(request: request_pb2.DataRequest) -> request_pb2.DataRequest:
        del request.data.docs.docs[0]
        return request

    nodes = [_node("dropper", "gateway", when={"text": {"$ne": "s"}})]
    request = _request(Document(id="1", text="a"), Document(id="2", text="s"), Document(id="3", text="b"))
    reply, _ = asyncio.run(_run(nodes, {"dropper": drop_first}, request))
    assert _texts(reply) == ["b", "s"]


def test_the_first_failing_branch_gives_the_reply_and_floating_failures_do_not() -> None:
    def fail(request: request_pb2.DataRequest) -> request_pb2.DataRequest:
        request.header.status.code = request_pb2.Status.CODE_ERROR
        request.header.status.exception.executor = "bad"
        return request

    nodes = [_node("ok", "gateway"), _node("bad", "gateway"), _node("float", "gateway", floating=True)]
    reply, _ = asyncio.run(_run(nodes, {"ok": _append("!"), "bad": fail, "float": fail}, _request(Document(id="1"))))
    assert request_pb2.DataRequest.FromString(reply).header.status.exception.executor == "bad"
    reply, _ = asyncio.run(_run(nodes[::2], {"ok": _append("!"), "float": fail}, _request(Document(id="1", text="t"))))
    assert _texts(reply) == ["t!"]


@pytest.mark.parametrize("order", [["left", "right"], ["right", "left"]])
def test_the_merge_follows_the_order_of_needs(order: list[str]) -> None:
    nodes = [_node("left", "gateway"), _node("right", "gateway"), _node("join", *order)]
    behaviours = {"left": _append("L"), "right": _append("R"), "join": _append("")}
    reply, _ = asyncio.run(_run(nodes, behaviours, _request(Document(id="1", text="t"))))
    assert _texts(reply) == [f"t{order[0][0].upper()}"]  # the first reply's text wins
