"""Seed 001's client examples against docwire's embedding service.

Starts the service in-process (what ``docwire serve embed`` runs), then calls it as the seed
does: encode strings and documents, encode beside another asyncio task, rank, index, search,
profile, a generator of image paths with a progress bar, and callbacks. Images are local
files and the seed's data URI (examples run offline; a ``https://`` image URL works the same
when the service can reach it).

Run it: ``.venv/bin/python examples/embed_client.py`` (models: ``docwire models install``).
"""

from __future__ import annotations

import asyncio
import tempfile
from glob import iglob
from pathlib import Path

import numpy as np
from PIL import Image

from docwire import DocList, Document, EmbedClient
from docwire.embed.service import embed_flow

GIF = (  # the seed's data URI
    "data:image/gif;base64,R0lGODlhEAAQAMQAAORHHOVSKudfOulrSOp3WOyDZu6QdvCchPGolfO0o/XBs/fNwfjZ0frl3/zy7/"
    "///wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACH5BAkAABAALAAAAAAQABAAAAVVICSOZG"
    "lCQAosJ6mu7fiyZeKqNKToQGDsM8hBADgUXoGAiqhSvp5QAnQKGIgUhwFUYLCVDFCrKUE1lBavAViFIDlTImbKC5Gm2hB0SlBCBM"
    "QiB0UjIQA7"
)


def make_pictures(folder: Path) -> None:
    """apple.png, and a few more pictures under pictures/."""
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype("uint8")).save(folder / "apple.png")
    (folder / "pictures").mkdir()
    for i in range(3):
        Image.fromarray((rng.random((48, 48, 3)) * 255).astype("uint8")).save(folder / "pictures" / f"{i}.png")


async def another_heavylifting_job() -> None:
    await asyncio.sleep(0.5)  # writing to a database, downloading a large file...


async def encode_beside(c: EmbedClient) -> np.ndarray:
    t1 = asyncio.create_task(another_heavylifting_job())
    t2 = asyncio.create_task(c.aencode(["hello world"] * 100))
    _, vectors = await asyncio.gather(t1, t2)
    await c.aclose()
    result: np.ndarray = vectors
    return result


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, embed_flow(host="127.0.0.1", workspace=f"{folder}/index") as flow:
        make_pictures(Path(folder))
        c = EmbedClient(f"grpc://127.0.0.1:{flow.ports['grpc']}")
        apple = f"{folder}/apple.png"

        # Encoding strings: each is auto-detected as a sentence or an image; a row per input.
        sentences = c.encode(["she smiled, with pain", "see a.b", "and/or"])
        images = c.encode([apple, GIF])
        print("strings:", sentences.shape, images.shape)
        assert sentences.shape == (3, 384)
        assert images.shape == (2, 1280)

        # Encoding documents: the same documents come back, each with .embedding.
        da = [
            Document(text="she smiled, with pain"),
            Document(uri=apple),
            Document(tensor=np.asarray(Image.open(apple))),
            Document(blob=Path(apple).read_bytes()),
            Document(uri=GIF),
        ]
        r = c.encode(DocList[Document](da))
        print("documents:", [np.asarray(d.embedding).shape for d in r])
        assert r[0] is da[0]
        assert np.allclose(r[1].embedding, r[3].embedding, atol=1e-5)

        # Async: overlaps with another task.
        print("aencode:", asyncio.run(encode_beside(c)).shape)

        # Ranking: the matches of each document re-ranked by clip_score.
        d = Document(
            text="a photo of conference room",
            matches=[
                Document(text=f"a photo of a {p}")
                for p in ("control room", "lecture room", "conference room", "podium indoor", "television studio")
            ],
        )
        (ranked,) = c.rank([d])
        print("rank:", [(m.text, round(m.scores["clip_score"], 3)) for m in ranked.matches])
        assert ranked.matches[0].text == "a photo of a conference room"

        # Indexing, then searching with a limit.
        indexed = c.index([Document(text="she smiled, with pain"), Document(text="the train left at noon")])
        print("index:", len(indexed), "documents with embeddings of", np.asarray(indexed[0].embedding).shape)
        result = c.search(["smile"], limit=2)
        print("search:", [(m.text, round(m.scores["cosine"], 3)) for m in result[0].matches])
        assert result[0].matches[0].text == "she smiled, with pain"

        # Profiling one request.
        c.profile()
        c.profile("hello, world")

        # A generator of image paths, in batches, with a progress bar; callbacks instead of results.
        vectors = c.encode(iglob(f"{folder}/pictures/*.png"), batch_size=2, show_progress=True)  # noqa: PTH207 (the seed)
        done: list[int] = []
        c.encode(iglob(f"{folder}/pictures/*.png"), on_done=lambda resp: done.append(len(resp.docs)))  # noqa: PTH207
        print("generator:", vectors.shape, "callbacks saw", sum(done), "documents")
        assert vectors.shape == (3, 1280)
        assert sum(done) == 3
        c.close()


if __name__ == "__main__":
    main()
