"""The client on a real network: profiling, compression, a token in the metadata, retries, a progress
bar, and one client shared by several threads (seed 000 and seed 001)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from docwire import BaseDoc, Client, DocList, Executor, ExecutorError, Flow, Response, requests


class TextDoc(BaseDoc):
    text: str = ""


class Guarded(Executor):
    """Serves only callers that show the token."""

    @requests
    def guard(self, docs: DocList[TextDoc], metadata: dict[str, str], **kwargs: object) -> None:
        if metadata.get("authorization") != "Bearer s3cret":
            raise PermissionError("no valid token")
        for d in docs:
            d.text = d.text.upper()


class Indexer(Executor):
    @requests
    def index(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        pass


def data_gen() -> Iterator[TextDoc]:
    for i in range(5_000):
        yield TextDoc(text=f"document {i}")


def main() -> None:
    with Flow().add(uses=Guarded, name="guard").add(uses=Indexer, name="indexer") as flow:
        client = Client(host=f"grpc://localhost:{flow.port}")
        token = {"authorization": "Bearer s3cret"}

        # Where the time of one request goes: printed as a tree, returned as a dict (ms).
        assert client.is_flow_ready()
        figures = client.profiling(metadata=token)
        assert set(figures) >= {"Roundtrip", "Client-server network", "Server", "guard", "indexer"}

        # The token travels as gRPC metadata, to every executor; without it the executor refuses.
        docs = client.post("/", TextDoc(text="hello"), metadata=token, compression="gzip", return_type=TextDoc)
        assert docs.text == "HELLO"
        refused: ExecutorError | None = None
        try:
            client.post("/", TextDoc(text="hello"))
        except ExecutorError as error:
            refused = error
        assert refused is not None
        assert refused.name == "PermissionError"

        # Many documents: a generator, streamed with a progress bar, retried if the network drops.
        count = 0

        def on_done(response: Response[TextDoc]) -> None:
            nonlocal count
            count += len(response.docs)

        client.post(
            "/index",
            data_gen(),
            request_size=100,
            metadata=token,
            show_progress=True,
            on_done=on_done,
            max_attempts=5,
            initial_backoff=0.1,
            max_backoff=1.0,
            backoff_multiplier=2,
        )
        assert count == 5_000

        # One sync client, shared by threads: a one-document post blocks its thread on gRPC's sync API;
        # posts of several requests run on the client's own event loop.
        def work(i: int) -> str:
            reply = client.post("/", TextDoc(text=f"thread {i}"), metadata=token, return_type=TextDoc)
            assert isinstance(reply, TextDoc)  # one document in, one out: it comes back alone, not in a DocList
            return reply.text

        with ThreadPoolExecutor(max_workers=4) as pool:
            texts = list(pool.map(work, range(8)))
        print(texts)
        assert texts == [f"THREAD {i}" for i in range(8)]
        client.close()


if __name__ == "__main__":
    main()
