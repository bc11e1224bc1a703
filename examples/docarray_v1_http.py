"""docarray v1 documents over HTTP, as jina's HTTP client with docarray<0.30 (clip_client 0.8.3's) posts them.

Such a client sends each document as v1's ``Document.to_dict()``: every v1 field present, the
unset ones ``null``, and reads scores back as ``{"name": {"value": x}}``. The gateway recognises
those documents (all of v1's own fields are there), translates them for the executor, and answers
in v1's form, so the executor below only ever sees docwire's ``Document``.
"""

from __future__ import annotations

from typing import Any

import httpx

from docwire import DocList, Document, Executor, Flow, requests


class Ranker(Executor):
    """Scores each match by how many words it shares with its query."""

    @requests(on="/rank")
    def rank(self, docs: DocList[Document], **kwargs: Any) -> None:
        for doc in docs:
            words = set((doc.text or "").split())
            for match in doc.matches or []:
                match.scores = {"overlap": float(len(words & set((match.text or "").split())))}


def v1(doc_id: str, text: str, **fields: Any) -> dict[str, Any]:
    """A document as docarray v1's ``to_dict()`` writes it: every field, unset ones None."""
    names = (
        "id parent_id granularity adjacency blob tensor mime_type text weight uri tags offset location "
        "embedding modality evaluations scores chunks matches"
    )
    return {name: None for name in names.split()} | {"id": doc_id, "text": text} | fields


if __name__ == "__main__":
    query = v1("q", "a meeting room", matches=[v1("m1", "a podium", adjacency=1), v1("m2", "a meeting room")])
    with Flow(host="127.0.0.1", protocol="http").add(uses=Ranker) as flow:
        body = {"header": {"exec_endpoint": "/rank"}, "parameters": {}, "data": [query]}
        reply = httpx.post(f"http://127.0.0.1:{flow.port}/rank", json=body, timeout=60).json()
    (doc,) = reply["data"]
    for match in doc["matches"]:
        print(match["id"], match["text"], match["scores"])
    # m1 a podium {'overlap': {'value': 1.0}}
    # m2 a meeting room {'overlap': {'value': 3.0}}
    assert [m["scores"] for m in doc["matches"]] == [{"overlap": {"value": 1.0}}, {"overlap": {"value": 3.0}}]
    assert None not in doc.values()  # v1 reads an absent field as unset
