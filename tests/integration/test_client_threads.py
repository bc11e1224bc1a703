"""Item 11: a sync Client is safe to share between threads; misuse across event loops, processes and
callbacks fails with a clear message instead of hanging."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest
from client_scenarios import Served, protocols, serve
from executors import Appender, TextDoc
from processes import wait_gone

from docwire import AsyncClient, Client, DocList, Response


@pytest.fixture(scope="module", params=protocols())
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param, lambda flow: flow.add(uses=Appender, name="tail", replicas=2)) as served:
        yield served


def post_texts(client: Client, prefix: str, n: int) -> list[str]:
    docs = DocList[TextDoc]([TextDoc(text=f"{prefix}{i}") for i in range(n)])
    returned: DocList[TextDoc] = client.post(
        "/", docs, request_size=2, results_in_order=True, return_type=DocList[TextDoc]
    )
    return list(returned.text)


def test_one_client_shared_by_many_threads(served: Served) -> None:
    client = served.client()

    def work(t: int) -> list[list[str]]:
        return [post_texts(client, f"t{t}-{k}-", 5) for k in range(10)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {t: pool.submit(work, t) for t in range(8)}
        results = {t: future.result(timeout=60) for t, future in futures.items()}
    for t, rounds in results.items():
        assert rounds == [[f"t{t}-{k}-{i}[tail]" for i in range(5)] for k in range(10)]


def test_one_client_shared_by_threads_posting_one_request_each(served: Served) -> None:
    """One-request posts (over gRPC: on the sync API's channel, no loop) from many threads at once, mixed
    with posts of several requests (on the loop), each thread getting its own replies."""
    client = served.client()

    def work(t: int) -> list[list[str]]:
        rounds = []
        for k in range(20):
            if k % 5 == 4:
                rounds.append(post_texts(client, f"t{t}-{k}-", 3))
            else:
                rounds.append(list(client.post("/", TextDoc(text=f"t{t}-{k}-0")).text))
        return rounds

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {t: pool.submit(work, t) for t in range(8)}
        results = {t: future.result(timeout=60) for t, future in futures.items()}
    for t, rounds in results.items():
        assert rounds == [[f"t{t}-{k}-{i}[tail]" for i in range(3 if k % 5 == 4 else 1)] for k in range(20)]


def test_a_client_per_thread(served: Served) -> None:
    def work(t: int) -> list[str]:
        with Client(host="127.0.0.1", port=served.port, protocol=served.protocol) as client:
            return post_texts(client, f"own{t}-", 4)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(4), timeout=60))
    assert results == [[f"own{t}-{i}[tail]" for i in range(4)] for t in range(4)]


async def test_an_async_client_refuses_a_second_event_loop(served: Served) -> None:
    async with AsyncClient(host="127.0.0.1", port=served.port, protocol=served.protocol) as client:
        assert await client.is_flow_ready()

        async def elsewhere() -> bool:
            return await client.is_flow_ready()

        with pytest.raises(RuntimeError, match="bound to the event loop it was first used in"):
            await asyncio.wait_for(asyncio.to_thread(asyncio.run, elsewhere()), timeout=30)
        assert await client.is_flow_ready()  # still fine on its own loop


def test_a_sync_client_called_from_its_callback_raises(served: Served) -> None:
    """Callbacks of a post of several requests run on the clients' event loop: a sync post that needs the
    loop (several requests) would wait on the loop it blocks, so it raises instead."""
    client = served.client()
    failures: list[BaseException] = []

    def nested(response: Response[Any]) -> None:
        try:
            client.post("/", [TextDoc(text="nested"), TextDoc(text="nested")], request_size=1)
        except RuntimeError as exc:
            failures.append(exc)

    client.post("/", [TextDoc(text="outer"), TextDoc(text="outer")], request_size=1, on_done=nested)
    assert len(failures) == 2
    assert "cannot be called from a callback" in str(failures[0])


def test_a_one_request_grpc_post_runs_its_callbacks_in_the_calling_thread(served: Served) -> None:
    """A sync post that is one gRPC request runs no event loop (``AsyncClient.blocking_responses``): its
    callbacks run in the caller's thread, where the client may be called again, and it may be called from
    any callback. Over HTTP and WebSocket the post runs on the loop, as a post of several requests does."""
    client = served.client()
    outcomes: list[object] = []

    def nested(response: Response[Any]) -> None:
        try:
            outcomes.append(list(client.post("/", TextDoc(text="nested")).text))
        except RuntimeError as exc:
            outcomes.append(exc)

    assert client.post("/", TextDoc(text="outer"), on_done=nested) is None
    if served.protocol == "grpc":
        assert outcomes == [["nested[tail]"]]
    else:
        assert len(outcomes) == 1
        assert "cannot be called from a callback" in str(outcomes[0])


@pytest.mark.parametrize("served", protocols("fork_check"), indirect=True)
def test_a_client_in_a_forked_process_raises_instead_of_hanging(served: Served) -> None:
    client = served.client()
    assert post_texts(client, "parent", 1) == ["parent0[tail]"]
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+ warns about fork with threads
        pid = os.fork()
    if pid == 0:  # the child: report what each kind of use does, then leave at once
        os.close(read_end)
        outcomes = []
        inherited_then_new: list[Callable[[], Client]] = [
            lambda: client,
            lambda: Client(host="127.0.0.1", port=served.port, protocol=served.protocol),
        ]
        for make in inherited_then_new:
            try:
                make().is_flow_ready(timeout=5)
                outcomes.append("no error")
            except RuntimeError as exc:
                outcomes.append(str(exc))
        os.write(write_end, "\n".join(outcomes).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        outcomes = pipe.read().decode().split("\n")
    assert wait_gone([pid], timeout=30) == []
    os.waitpid(pid, 0)
    assert len(outcomes) == 2
    assert all("forked from process" in outcome and "'spawn'" in outcome for outcome in outcomes), outcomes
    assert post_texts(client, "parent", 1) == ["parent0[tail]"]  # the parent's client is unharmed


def post_from_a_process(port: int, protocol: str, prefix: str) -> list[str]:
    """Runs in a spawned worker: a process makes its own client."""
    with Client(host="127.0.0.1", port=port, protocol=protocol) as client:
        return post_texts(client, prefix, 3)


def test_a_client_per_spawned_process(served: Served) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = [pool.submit(post_from_a_process, served.port, served.protocol, f"p{i}-") for i in range(2)]
        results = [future.result(timeout=90) for future in futures]
    assert results == [[f"p{i}-{k}[tail]" for k in range(3)] for i in range(2)]


#: Posts of every shape through a sync client over gRPC, then the names of the process' threads.
_THREADS_AFTER_POSTS = """
import sys, threading, time
from docarray.documents import TextDoc
from docwire import Client
with Client(port=int(sys.argv[1])) as client:
    client.post("/", TextDoc(text="one"))
    client.post("/", (TextDoc(text=str(i)) for i in range(1)))
    client.post("/", [TextDoc(text=str(i)) for i in range(6)], request_size=2)
deadline = time.monotonic() + 10  # gRPC's own writing thread ends on its own, soon after the call
while threading.active_count() > 1 and time.monotonic() < deadline:
    time.sleep(0.01)
print(",".join(sorted(thread.name for thread in threading.enumerate())))
"""


@pytest.mark.parametrize("served", protocols("fork_check"), indirect=True)
def test_a_sync_grpc_client_leaves_no_thread_running(served: Served) -> None:
    """A script that posted through a sync gRPC client runs no thread of docwire's once the client is closed,
    so a Flow it enters later still starts its replicas as forks of itself (``preloader.launcher_can_fork``)."""
    result = subprocess.run(
        [sys.executable, "-c", _THREADS_AFTER_POSTS, str(served.port)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "MainThread"


#: A script that posts through clients it never closes.
_UNCLOSED_CLIENTS = """
import asyncio, sys
from docarray.documents import TextDoc
from docwire import AsyncClient, Client
client = Client(port=int(sys.argv[1]))
print(client.post("/", TextDoc(text="sync")).text[0])
async def main():
    async for docs in AsyncClient(port=int(sys.argv[1])).post("/", TextDoc(text="async")):
        print(docs.text[0])
asyncio.run(main())
"""


@pytest.mark.parametrize("served", protocols("fork_check"), indirect=True)
def test_a_script_exits_without_closing_its_clients(served: Served) -> None:
    """The calls a client keeps open between posts (its shared Stream call) end at exit: gRPC's shutdown would
    wait for them."""
    result = subprocess.run(
        [sys.executable, "-c", _UNCLOSED_CLIENTS, str(served.port)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sync[tail]", "async[tail]"]
