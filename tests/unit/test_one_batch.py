"""``one_batch``: the one request a sync post sends without an event loop is the one ``batches`` would cut,
and it answers only when that is known without pulling the inputs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from docarray import BaseDoc, DocList
from docarray.documents import TextDoc

from docwire_client.inputs import Inputs, batches, one_batch


def texts(n: int) -> list[TextDoc]:
    return [TextDoc(text=str(i)) for i in range(n)]


def all_batches(inputs: Inputs, request_size: int) -> list[list[BaseDoc]]:
    async def collect() -> list[list[BaseDoc]]:
        return [batch async for batch in batches(inputs, request_size)]

    return asyncio.run(collect())


@pytest.mark.parametrize(
    "inputs",
    [
        None,
        TextDoc(text="one"),
        [],
        texts(1),
        texts(3),
        tuple(texts(3)),
        DocList[TextDoc](texts(3)),
    ],
    ids=["none", "doc", "empty", "list-1", "list-3", "tuple-3", "doclist-3"],
)
def test_what_fits_one_request_is_the_batch_batches_cuts(inputs: Inputs) -> None:
    found = one_batch(inputs, request_size=3)
    assert found is not None
    assert [found] == all_batches(inputs, 3)


def test_a_sequence_longer_than_a_request_is_left_to_batches() -> None:
    assert one_batch(texts(4), request_size=3) is None
    assert len(all_batches(texts(4), 3)) == 2


def test_inputs_known_only_by_pulling_them_are_left_to_batches() -> None:
    def generated() -> Iterator[TextDoc]:
        yield TextDoc(text="lazy")

    gen = generated()
    assert one_batch(gen, request_size=100) is None
    assert next(gen).text == "lazy"  # nothing was pulled
    assert one_batch(generated, request_size=100) is None  # a function: known once it is called
    assert one_batch(iter(texts(2)), request_size=100) is None


def test_items_that_are_not_documents_raise_as_batches_does() -> None:
    with pytest.raises(TypeError, match="must be docarray documents"):
        one_batch([TextDoc(text="ok"), "not a document"], request_size=10)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="must be docarray documents"):
        all_batches([TextDoc(text="ok"), "not a document"], 10)  # type: ignore[list-item]


def test_strings_and_invalid_sizes_are_left_to_batches_which_raises() -> None:
    assert one_batch("text", request_size=10) is None  # type: ignore[arg-type]
    assert one_batch(texts(1), request_size=0) is None
    with pytest.raises(ValueError, match="request_size must be at least 1"):
        all_batches(texts(1), 0)
