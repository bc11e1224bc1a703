"""Replicas that crash or hang under load (issue 15 item 1): every request is answered once or fails naming the
replica, none twice, none silently; the other replicas keep serving; a killed replica is restarted on its port by
the Flow's supervisor and gets requests again."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from executors import Napper, TextDoc
from processes import is_running

from docwire import Client, ExecutorUnavailable, Flow, RequestTimeout

HOST = "127.0.0.1"
CLIENTS = 8
REQUESTS_PER_CLIENT = 40


@pytest.fixture
def flow() -> Iterator[Flow]:
    with Flow(host=HOST).add(uses=Napper, name="napper", replicas=3) as started:
        yield started


@dataclass
class Outcomes:
    """What each request (by its text) came to: the replica and pid that answered, or the error."""

    answered: dict[str, tuple[int, int]] = field(default_factory=dict)
    failed: dict[str, Exception] = field(default_factory=dict)
    twice: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, text: str, outcome: tuple[int, int] | Exception) -> None:
        with self.lock:
            if text in self.answered or text in self.failed:
                self.twice.append(text)
            elif isinstance(outcome, Exception):
                self.failed[text] = outcome
            else:
                self.answered[text] = outcome


def _client_loop(flow: Flow, number: int, outcomes: Outcomes, halfway: threading.Event, **parameters: object) -> None:
    with Client(host=HOST, port=flow.port) as client:
        for i in range(REQUESTS_PER_CLIENT):
            if i == REQUESTS_PER_CLIENT // 3:
                halfway.set()
            text = f"client{number}-{i}"
            try:
                (response,) = client.post("/", TextDoc(text=text), parameters=parameters, return_responses=True)
            except (ExecutorUnavailable, RequestTimeout) as error:
                outcomes.record(text, error)
                continue
            except Exception as error:  # noqa: BLE001 - anything else is what the test must catch
                outcomes.record(text, error)
                continue
            (result,) = response.parameters["__results__"].values()
            assert response.docs[0].text == text
            outcomes.record(text, (int(result["replica"]), int(result["pid"])))


def _run_clients(flow: Flow, during: threading.Event, **parameters: object) -> Outcomes:
    outcomes = Outcomes()
    threads = [
        threading.Thread(target=_client_loop, args=(flow, n, outcomes, during), kwargs=parameters)
        for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def _replica_pids(flow: Flow) -> list[int]:
    """The executor replicas' pids, in replica order (``Flow.pids()`` lists them before the gateway)."""
    return flow.pids()[:3]


def test_a_replica_killed_under_load_loses_nothing_and_comes_back(flow: Flow) -> None:
    killed_pid = _replica_pids(flow)[1]
    killed_address = flow.executor_addresses["napper"][1]
    halfway = threading.Event()

    def kill_when_under_way() -> None:
        halfway.wait(60)
        os.kill(killed_pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_when_under_way)
    killer.start()
    outcomes = _run_clients(flow, halfway, sleep=0.02)
    killer.join(timeout=60)

    expected = {f"client{n}-{i}" for n in range(CLIENTS) for i in range(REQUESTS_PER_CLIENT)}
    assert outcomes.twice == []
    assert set(outcomes.answered) | set(outcomes.failed) == expected  # every request accounted for, once
    unexpected = {t: e for t, e in outcomes.failed.items() if not isinstance(e, ExecutorUnavailable)}
    assert unexpected == {}
    for error in outcomes.failed.values():  # the few in flight on the killed replica, named
        assert f"'napper' at {killed_address}" in str(error)
    assert len(outcomes.failed) <= CLIENTS  # at most one in flight per client
    survivors = {replica for replica, pid in outcomes.answered.values() if pid != killed_pid}
    assert {0, 2} <= survivors  # the others kept serving

    deadline = time.monotonic() + 30  # bounded: the supervisor restarts it within a second or two
    while _replica_pids(flow)[1] == killed_pid and time.monotonic() < deadline:
        time.sleep(0.1)
    new_pid = _replica_pids(flow)[1]
    assert new_pid != killed_pid
    assert is_running(new_pid)
    assert flow.executor_addresses["napper"][1] == killed_address  # same port: the gateway reconnects
    served_by: set[int] = set()
    with Client(host=HOST, port=flow.port) as client:
        for i in range(60):  # bounded; round-robin reaches it within a few requests once reconnected
            (response,) = client.post("/", TextDoc(text=f"after-{i}"), return_responses=True)
            (result,) = response.parameters["__results__"].values()
            served_by.add(int(result["pid"]))
            if new_pid in served_by:
                break
            time.sleep(0.05)
    assert new_pid in served_by, "the restarted replica got no request"


def test_a_hung_replica_costs_its_requests_their_deadline_and_the_others_serve_on(flow: Flow) -> None:
    hung_address = flow.executor_addresses["napper"][0]
    with Client(host=HOST, port=flow.port) as client:
        answered, timed_out = [], []
        for i in range(9):  # round-robin: a third of them reach the hung replica
            try:
                (response,) = client.post(
                    "/", TextDoc(text=f"h{i}"), parameters={"hang": 2.0}, timeout=0.5, return_responses=True
                )
                (result,) = response.parameters["__results__"].values()
                answered.append(int(result["replica"]))
            except RequestTimeout as error:
                timed_out.append(str(error))
    assert timed_out, "no request reached the hung replica"
    assert all(f"'napper' at {hung_address}" in message for message in timed_out), timed_out
    assert sorted(set(answered)) == [1, 2]
    assert len(answered) + len(timed_out) == 9
