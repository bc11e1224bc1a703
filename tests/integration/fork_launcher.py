"""A script that enters a Flow as a user's would, for ``test_preloaded_replicas.py``: ``python fork_launcher.py MODE``.

MODE ``plain`` enters it from a fresh single-threaded process, ``asyncio`` from inside a running
event loop, ``thread`` with a thread of its own running, ``after-uvloop`` after a uvloop loop has
run and closed (libuv then re-creates descriptors in every forked child). Before the Flow the script opens a
listening socket, and closes it once the Flow is up. It prints one JSON line: the replicas'
``Lineage`` reports, the command line of the process that forked them, whether the closed
socket's port could be bound again while the Flow served, and the Flow's docs.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
from pathlib import Path

import uvloop
from docarray import DocList
from executors import Lineage, TextDoc

from docwire import Flow


def _command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def run() -> dict[str, object]:
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    with Flow(host="127.0.0.1").add(uses=Lineage, name="lineage", replicas=2) as flow:
        listening.close()
        with socket.socket() as again:  # no SO_REUSEADDR: fails while any process holds the old socket
            again.bind(("127.0.0.1", port))
            again.listen()
        docs = DocList[TextDoc]([TextDoc(text=str(i)) for i in range(4)])
        replies = flow.post("/", docs, request_size=1, return_responses=True)
        reports = [value for reply in replies for value in dict(reply.parameters["__results__"]).values()]
        parents = {int(report["ppid"]) for report in reports}
        return {
            "replicas": sorted({int(report["pid"]) for report in reports}),
            "parents": sorted(parents),
            "forker": _command_line(next(iter(parents))),
            "forker_parent": int(Path(f"/proc/{next(iter(parents))}/stat").read_text().split(") ")[1].split()[1]),
            "rebound": True,
            "texts": sorted(doc.text for reply in replies for doc in reply.docs),
        }


async def run_in_loop() -> dict[str, object]:
    return run()  # a Flow entered from a coroutine: the loop is running in this thread


def main() -> None:
    mode = sys.argv[1]
    stop = threading.Event()
    if mode == "thread":
        threading.Thread(target=stop.wait, daemon=True).start()
    if mode == "after-uvloop":
        uvloop.run(asyncio.sleep(0))
    result = asyncio.run(run_in_loop()) if mode == "asyncio" else run()
    stop.set()
    result["launcher"] = os.getpid()
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
