"""What mypy infers for ``post``: its overloads give each call the shape it returns at run time.

mypy checks this module (``tests/`` is in its ``files``): an ``assert_type`` that does not hold fails
``make lint``. The functions are never called (they would need a gateway); the check is mypy's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import assert_type

from docarray import BaseDoc, DocList

from docwire_client import AsyncClient, Client, Document, Response
from docwire_client.options import ReturnType


class TextDoc(BaseDoc):
    text: str = ""


def _print(response: Response[Document]) -> None:
    # Typed with a document class: a callback taking ``Response[Any]`` makes mypy answer Any for the calls
    # below, as it does whenever an argument holding Any matches more than one overload.
    pass


def sync_post(client: Client, flag: bool, return_type: ReturnType | None) -> None:
    # Documents: DocList[Document] by default, DocList[X] for DocList[X], X or DocList[X] for a class X
    # (a lone document comes back as itself).
    assert_type(client.post("/"), DocList[Document])
    assert_type(client.post("/", [TextDoc()], request_size=10, max_attempts=3), DocList[Document])
    assert_type(client.post("/", return_type=DocList[TextDoc]), DocList[TextDoc])
    assert_type(client.post("/", return_responses=False, return_type=DocList[TextDoc]), DocList[TextDoc])
    assert_type(client.post("/", return_type=TextDoc), TextDoc | DocList[TextDoc])
    # Responses, their documents decoded into the return type.
    assert_type(client.post("/", return_responses=True), list[Response[Document]])
    assert_type(client.post("/", return_responses=True, return_type=TextDoc), list[Response[TextDoc]])
    assert_type(client.post("/", return_responses=True, return_type=DocList[TextDoc]), list[Response[TextDoc]])
    # Any callback: the replies go to it and post returns None, whatever else is asked.
    assert_type(client.post("/", on_done=_print), None)
    assert_type(client.post("/", on_error=_print, continue_on_error=True), None)
    assert_type(client.post("/", on_always=_print, return_responses=True), None)
    assert_type(client.post("/", on_done=_print, on_error=_print, on_always=_print), None)
    # Known only at run time: every shape it may be.
    anything = list[Response[BaseDoc]] | DocList[BaseDoc] | BaseDoc | None
    assert_type(client.post("/", return_responses=flag, return_type=TextDoc), anything)
    assert_type(client.post("/", on_done=None), anything)
    assert_type(client.post("/", return_type=return_type, return_responses=flag), anything)
    client.post("/", return_type=return_type)  # a return type known only at run time type-checks too


def async_post(client: AsyncClient, flag: bool, return_type: ReturnType | None) -> None:
    # Each reply's documents, or the replies; callbacks see them first and do not change what is yielded.
    assert_type(client.post("/"), AsyncIterator[DocList[Document]])
    assert_type(client.post("/", on_done=_print, prefetch=2), AsyncIterator[DocList[Document]])
    assert_type(client.post("/", return_type=DocList[TextDoc]), AsyncIterator[DocList[TextDoc]])
    assert_type(client.post("/", return_type=TextDoc), AsyncIterator[TextDoc | DocList[TextDoc]])
    assert_type(client.post("/", return_responses=True), AsyncIterator[Response[Document]])
    assert_type(client.post("/", return_responses=True, return_type=TextDoc), AsyncIterator[Response[TextDoc]])
    anything = AsyncIterator[Response[BaseDoc] | DocList[BaseDoc] | BaseDoc]
    assert_type(client.post("/", return_responses=flag, return_type=DocList[TextDoc]), anything)
    assert_type(client.post("/", return_type=return_type), anything)
