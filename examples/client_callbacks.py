"""Callbacks per reply (``on_done``, ``on_error``, ``on_always``), errors in callbacks, ``continue_on_error``,
and what ``post`` returns (seed 000, "Callbacks" and "Returns")."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from docwire import BaseDoc, Client, DocList, Executor, ExecutorError, Flow, Response, requests


class TextDoc(BaseDoc):
    text: str = ""


class MyExec1(Executor):
    @requests(on="/fail")
    def foo(self, **kwargs: object) -> None:
        raise NotImplementedError

    @requests
    def echo(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for d in docs:
            if d.text == "poison":
                raise ValueError("cannot digest", d.text)


def main() -> None:
    with Flow().add(uses=MyExec1) as flow:
        client = Client(port=flow.port)

        # The status of a failed request: the executor's exception, its arguments, stack, and name.
        statuses: list[Any] = []
        returned = client.post(on="/fail", on_error=lambda r: statuses.append(r.header.status))
        print(statuses[0].exception.name, statuses[0].exception.executor)
        print("".join(statuses[0].exception.stacks[-2:]))
        assert returned is None  # with a callback, nothing is accumulated and returned
        assert statuses[0].exception.name == "NotImplementedError"
        assert statuses[0].exception.executor == "executor0"

        # Print when it works, beep when it fails, write every reply to a file.
        beeps: list[str] = []
        with tempfile.TemporaryDirectory() as workspace, (Path(workspace) / "output.txt").open("w") as fp:

            def save(response: Response[Any]) -> None:
                fp.write(f"{response.request_id} {[d.text for d in response.docs]}\n")

            client.post(
                "/",
                [TextDoc(text=t) for t in ("hello", "poison", "world")],
                request_size=1,
                on_done=lambda r: print("done", r.docs.text),
                on_error=lambda r: beeps.append("\a"),
                on_always=save,
            )
            fp.flush()
            assert len((Path(workspace) / "output.txt").read_text().splitlines()) == 3
        assert beeps == ["\a"]

        # Without on_error, an executor's exception raises; continue_on_error logs it and goes on.
        inputs = [TextDoc(text=t) for t in ("a", "poison", "b")]
        failure: ExecutorError | None = None
        try:
            client.post("/", inputs, request_size=1)
        except ExecutorError as error:
            failure = error
        print("raised:", failure)
        assert failure is not None
        assert failure.name == "ValueError"
        assert failure.args_ == ["cannot digest", "poison"]
        kept = client.post("/", inputs, request_size=1, continue_on_error=True, return_type=DocList[TextDoc])
        assert sorted(kept.text) == ["a", "b"]

        # Returns: the documents, or the replies, or nothing when callbacks take them.
        docs = client.post("/", TextDoc(text="Hi there!"), return_type=DocList[TextDoc])
        responses = client.post("/", TextDoc(text="Hi there!"), return_responses=True)
        nothing = client.post("/", TextDoc(text="Hi there!"), on_done=lambda r: print(r.docs.text))
        print(docs.text, responses[0].docs.text, nothing)
        assert docs.text == ["Hi there!"]
        assert responses[0].docs.text == ["Hi there!"]
        assert nothing is None


if __name__ == "__main__":
    main()
