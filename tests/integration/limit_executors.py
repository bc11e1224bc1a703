"""An executor for the gateway's limits tests (imported by worker processes by module name)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from docarray import DocList
from executors import TextDoc

from docwire import Executor, requests


class Gate(Executor):
    """Marks each request's arrival (a file named after its first document in ``parameters['arrived']``),
    then holds it until the file ``parameters['open']`` exists (for at most 60 s)."""

    @requests
    async def hold(self, docs: DocList[TextDoc], parameters: dict[str, str], **kwargs: object) -> None:
        await asyncio.to_thread((Path(parameters["arrived"]) / docs[0].text).touch)
        for _ in range(600):  # bounded: the test opens the gate
            if await asyncio.to_thread(Path(parameters["open"]).exists):
                return
            await asyncio.sleep(0.1)
