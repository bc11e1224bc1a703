"""Replicas forked from one preloaded interpreter (``docwire.runtime.preloaded``), not started one by one.

The Flow starts that interpreter once; it imports what every worker imports and forks each
replica. An executor with its own ``env`` is started as a new interpreter instead (variables
that libraries read when imported must be set before the imports).
"""

from __future__ import annotations

import os
from pathlib import Path

from docarray import DocList
from executors import Lineage, TextDoc

from docwire import Client, Flow


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def test_replicas_share_one_preloaded_parent_and_an_executor_with_env_is_spawned() -> None:
    flow = (
        Flow(host="127.0.0.1")
        .add(uses=Lineage, name="forked", replicas=3)
        .add(uses=Lineage, name="spawned", env={"DOCWIRE_TEST_MARK": "set"})
    )
    with flow, Client(host="127.0.0.1", port=flow.port) as client:
        docs = DocList[TextDoc]([TextDoc(text=str(i)) for i in range(6)])
        replies = client.post("/", docs, request_size=1, return_responses=True)
        results = [dict(reply.parameters["__results__"]) for reply in replies]
        forked = {key: value for result in results for key, value in result.items() if key.startswith("forked/")}
        spawned = [value for result in results for key, value in result.items() if key.startswith("spawned/")]
        assert sorted(forked) == ["forked/rep-0", "forked/rep-1", "forked/rep-2"]
        parents = {int(result["ppid"]) for result in forked.values()}
        assert len(parents) == 1  # one interpreter forked them all
        (preloaded,) = parents
        assert preloaded != os.getpid()
        assert _parent_of(preloaded) == os.getpid()  # ...and the Flow started it
        assert len({int(result["pid"]) for result in forked.values()}) == 3
        assert {result["mark"] for result in forked.values()} == {None}
        assert {int(result["ppid"]) for result in spawned} == {os.getpid()}
        assert {result["mark"] for result in spawned} == {"set"}
    assert not Path(f"/proc/{preloaded}").exists()  # leaving the Flow stopped (and reaped) the interpreter
