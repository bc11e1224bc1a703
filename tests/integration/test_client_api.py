"""Item 10: ``index``/``search``/``update``/``delete`` are ``post`` on those endpoints; ``return_type`` casts,
and a lone document comes back as itself when the return type is a document class."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_scenarios import Served, protocols, serve
from executors import TextDoc, Toolbox

from docwire import AsyncClient, DocList, Document


@pytest.fixture(scope="module", params=protocols())
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param, lambda flow: flow.add(uses=Toolbox, name="toolbox")) as served:
        yield served


def test_index_search_update_delete(served: Served) -> None:
    client = served.client()
    docs = DocList[TextDoc]([TextDoc(id=f"doc{i}", text=t) for i, t in enumerate(["hello world", "world", "other"])])
    indexed = client.index(docs, return_type=DocList[TextDoc])
    assert indexed.text == docs.text

    found = client.search(TextDoc(text="world"), return_type=DocList[TextDoc])
    assert isinstance(found, DocList)
    assert found.id == ["doc0", "doc1"]

    client.update(TextDoc(id="doc1", text="a brave new world"))
    client.delete(TextDoc(id="doc0"))
    (response,) = client.search(TextDoc(text="world"), return_responses=True)
    assert [(d.id, d.text) for d in response.docs] == [("doc1", "a brave new world")]


def test_a_lone_document_comes_back_as_itself_for_a_document_class(served: Served) -> None:
    client = served.client()
    client.index(DocList[TextDoc]([TextDoc(id="lone", text="unique needle"), TextDoc(id="pair", text="twin")]))
    lone = client.search(TextDoc(text="needle"), return_type=TextDoc)
    assert isinstance(lone, TextDoc)
    assert lone.id == "lone"
    assert lone.text == "unique needle"
    several = client.post("/", [TextDoc(text="a"), TextDoc(text="b")], return_type=TextDoc)
    assert isinstance(several, DocList)
    assert several.text == ["a", "b"]
    as_list = client.post("/", TextDoc(text="one"), return_type=DocList[TextDoc])
    assert isinstance(as_list, DocList)


def test_return_type_casts_the_reply(served: Served) -> None:
    client = served.client()
    default = client.post("/", TextDoc(text="x"))
    assert isinstance(default[0], Document)
    cast = client.post("/", TextDoc(text="x"), return_type=DocList[TextDoc])
    assert isinstance(cast[0], TextDoc)
    with pytest.raises(TypeError, match="return_type must be a document class"):
        client.post("/", TextDoc(text="x"), return_type=int)  # type: ignore[arg-type]


async def test_the_async_client_has_the_same_methods(served: Served) -> None:
    async with AsyncClient(host="127.0.0.1", port=served.port, protocol=served.protocol) as client:
        async for _ in client.index(TextDoc(id="async", text="async needle")):
            pass
        found = [docs async for docs in client.search(TextDoc(text="async needle"), return_type=TextDoc)]
    assert len(found) == 1
    assert isinstance(found[0], TextDoc)
    assert found[0].id == "async"
