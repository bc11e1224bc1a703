"""Bad input gets a clear error and loses nothing; the server keeps serving."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable, Iterator

import grpc
import numpy as np
import pytest
from executors import BrokenInit, ExitingInit, Faulty, Quitter, TextDoc

from docwire import (
    BadRequest,
    BaseDoc,
    Client,
    DocList,
    DocumentSchemaError,
    EndpointNotFound,
    ExecutorError,
    ExecutorUnavailable,
    Flow,
    GatewayUnavailable,
    MessageTooLarge,
    ParametersSchemaError,
    StartupError,
)
from docwire_contract.methods import GatewayMethods

MakeClient = Callable[..., Client]


class Blob(BaseDoc):
    blob: bytes = b""


def ok_texts(client: Client) -> list[str]:
    docs = client.post("/ok", DocList[TextDoc]([TextDoc(text="x")]), return_type=DocList[TextDoc])
    return list(docs.text)


def test_malformed_request_bytes_are_invalid_argument(faulty: Flow) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{faulty.port}") as channel:
        post: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(GatewayMethods.POST)
        with pytest.raises(grpc.RpcError) as caught:
            post(b"\xff\xff\xff not protobuf", timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid docwire.v1.DataRequest" in (caught.value.details() or "")


def test_documents_not_fitting_the_schema_name_the_field(faulty: Flow, client_of: MakeClient) -> None:
    client = client_of(faulty)
    with pytest.raises(DocumentSchemaError, match=r"executor 'strict'.*'count'") as caught:
        client.post("/strict", DocList[TextDoc]([TextDoc(text="no count")]), target_executor="strict")
    assert isinstance(caught.value, BadRequest)
    assert ok_texts(client) == ["ok"]


@pytest.mark.parametrize("stream", [True, False])
def test_parameters_not_fitting_their_model_are_bad_requests_naming_the_field(
    faulty: Flow, client_of: MakeClient, stream: bool
) -> None:
    """Seed 003's ``parameters: MyModel``: validated before the method runs, so a bad value is the caller's error
    (INVALID_ARGUMENT) naming each field, not an exception of the executor's; the executor keeps serving."""
    client = client_of(faulty)
    with pytest.raises(ParametersSchemaError) as caught:
        client.post("/search", TextDoc(text="q"), parameters={"limit": "ten", "mode": ["a"]}, stream=stream)
    assert isinstance(caught.value, BadRequest)
    assert caught.value.grpc_code == grpc.StatusCode.INVALID_ARGUMENT
    message = str(caught.value)
    assert "executor 'searcher'" in message
    assert "the parameters do not fit SearchParams of endpoint '/search'" in message
    assert (
        "parameters.limit: Input should be a valid integer, unable to parse string as an integer (got 'ten')" in message
    )
    assert "parameters.mode: Input should be a valid string (got ['a'])" in message
    good = client.post("/search", TextDoc(text="q"), parameters={"limit": "3"}, return_type=DocList[TextDoc])
    assert good.text == ["q limit=3 mode=exact"]


def test_stream_doc_parameters_not_fitting_their_model(faulty: Flow, client_of: MakeClient) -> None:
    client = client_of(faulty)
    with pytest.raises(ParametersSchemaError, match=r"parameters\.limit: Input should be a valid integer"):
        list(client.stream_doc("/suggest", TextDoc(text="s"), parameters={"limit": "many"}))
    assert [d.text for d in client.stream_doc("/suggest", TextDoc(text="s"), return_type=TextDoc)] == ["s 0", "s 1"]


def test_executor_exception_comes_back_in_the_reply_and_the_executor_keeps_serving(
    faulty: Flow, client_of: MakeClient
) -> None:
    client = client_of(faulty)
    with pytest.raises(ExecutorError) as caught:
        client.post("/fail", DocList[TextDoc]([TextDoc(text="a")]))
    error = caught.value
    assert (error.name, error.args_, error.executor) == ("NotImplementedError", ["no time for it"], "faulty")
    assert any("raise NotImplementedError" in line for line in error.stacks)
    response = error.response
    assert response is not None
    assert response.status.description == "NotImplementedError('no time for it')"  # type: ignore[attr-defined]
    assert [r.executor for r in response.routes] == ["gateway", "faulty"]  # type: ignore[attr-defined]
    assert ok_texts(client) == ["ok"]


def test_a_method_calling_sys_exit_or_raising_keyboard_interrupt_fails_its_request_alone(
    client_of: MakeClient,
) -> None:
    """``sys.exit`` deep in a library a method calls, or a stray KeyboardInterrupt, is the method's failure like
    any exception: it comes back as an ExecutorError and the same replica serves on (it ended the replica's
    process, and the requests after it failed until the Flow had started it again)."""
    with Flow(host="127.0.0.1").add(uses=Quitter, name="quitter") as flow:
        client = client_of(flow)

        def pid() -> int:
            replies = client.post("/ok", TextDoc(text="x"), return_responses=True)
            return int(replies[0].parameters["__results__"]["quitter/rep-0"]["pid"])

        serving = pid()
        for endpoint, name, args in (("/exit", "SystemExit", ["3"]), ("/interrupt", "KeyboardInterrupt", [])):
            with pytest.raises(ExecutorError) as caught:
                client.post(endpoint, TextDoc(text="x"))
            assert (caught.value.name, caught.value.args_, caught.value.executor) == (name, args, "quitter")
            assert pid() == serving


def test_unknown_endpoint_lists_the_valid_ones(faulty: Flow, client_of: MakeClient) -> None:
    with pytest.raises(EndpointNotFound, match=r"'/nope'.*/fail.*/ok.*/strict"):
        client_of(faulty).post("/nope", target_executor="faulty|strict")


def test_bad_target_executor_regex(faulty: Flow, client_of: MakeClient) -> None:
    with pytest.raises(BadRequest, match="not a valid regular expression"):
        client_of(faulty).post("/ok", target_executor="(")


def test_oversized_message_names_the_limit(faulty: Flow, client_of: MakeClient) -> None:
    big = Blob(blob=np.random.default_rng(0).bytes(2 * 1024 * 1024))
    with pytest.raises(MessageTooLarge, match="1048576"):
        client_of(faulty).post("/ok", big)
    assert ok_texts(client_of(faulty)) == ["ok"]


def test_closed_port_is_a_connection_error_naming_the_address() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        Client(host="127.0.0.1", port=port) as client,
        pytest.raises(ConnectionError, match=f"127.0.0.1:{port}") as caught,
    ):
        client.post("/x", TextDoc(text="x"))
    assert isinstance(caught.value, GatewayUnavailable)
    assert not client.is_flow_ready(timeout=2)


@pytest.fixture
def lone_faulty() -> Iterator[Flow]:
    """A Flow whose executor this test may kill: one Faulty replica, then an Appender."""
    from executors import Appender  # noqa: PLC0415

    with Flow(host="127.0.0.1").add(uses=Faulty, name="faulty").add(uses=Appender, name="tail") as flow:
        yield flow


def test_dead_executor_is_unavailable_naming_it_and_its_address(lone_faulty: Flow, client_of: MakeClient) -> None:
    client = client_of(lone_faulty)
    with pytest.raises(ExecutorUnavailable, match=r"executor 'faulty' at 127\.0\.0\.1:\d+"):
        client.post("/die", TextDoc(text="x"))
    with pytest.raises(ExecutorUnavailable, match=r"executor 'faulty' at 127\.0\.0\.1:\d+"):
        client.post("/ok", TextDoc(text="x"))
    # The gateway keeps serving: other executors still answer, and the dry run names the dead one.
    assert client.post("/x", TextDoc(text="x"), target_executor="tail", return_type=TextDoc).text == "x[tail]"
    status = client.dry_run()
    assert status.code == 1
    assert "faulty" in status.description


def test_a_killed_replica_is_skipped_by_the_others(client_of: MakeClient) -> None:
    with Flow(host="127.0.0.1").add(uses=Faulty, name="faulty", replicas=2) as flow:
        client = client_of(flow)
        assert ok_texts(client) == ["ok"]
        victim = next(p for p in flow._processes if p.label == "executor 'faulty' rep-1")
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        victim.stop()
        # Every request still succeeds on the surviving replica; none is lost.
        docs = client.post(
            "/ok", DocList[TextDoc]([TextDoc(text=str(i)) for i in range(20)]), request_size=1, prefetch=1
        )
        assert len(docs) == 20


def test_startup_failure_names_the_executor_and_shows_its_log() -> None:
    flow = Flow(host="127.0.0.1", timeout_ready=30).add(uses=BrokenInit, name="broken")
    with pytest.raises(StartupError, match=r"(?s)executor 'broken' rep-0 exited.*cannot load the model weights"):
        flow.start()
    assert flow.pids() == []


@pytest.mark.parametrize(
    ("uses", "reason"),
    [
        ("no_such_module.Encoder", r"No module named 'no_such_module'"),
        ("executors.NoSuchEncoder", r"module 'executors' \(.*executors\.py\) has no class 'NoSuchEncoder'"),
    ],
)
def test_a_uses_that_names_nothing_fails_startup_in_one_line(uses: str, reason: str) -> None:
    flow = Flow(host="127.0.0.1", timeout_ready=30).add(uses=uses, name="enc")
    with pytest.raises(
        StartupError, match=rf"(?s)executor 'enc' rep-0 exited.*enc: cannot load uses='{uses}': {reason}"
    ) as caught:
        flow.start()
    assert "Traceback" not in str(caught.value)
    assert flow.pids() == []


@pytest.mark.parametrize("holder", ["gateway", "executor"])
def test_a_port_another_process_holds_fails_startup_in_one_line(holder: str) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        flow = (
            Flow(host="127.0.0.1", port=port).add(uses=Faulty, name="f")
            if holder == "gateway"
            else Flow(host="127.0.0.1").add(uses=Faulty, name="f", port=port)
        )
        with pytest.raises(StartupError) as caught:
            flow.start()
    message = str(caught.value)
    assert f"cannot bind 127.0.0.1:{port} for gRPC: Address already in use" in message, message
    assert "Traceback" not in message
    assert flow.pids() == []


def test_startup_ended_by_sys_exit_shows_its_message() -> None:
    """``sys.exit("...")`` while an executor starts: its message is in the error, as the interpreter would print it
    (a replica forked by the launcher exited with code 1 and "it wrote no output")."""
    flow = Flow(host="127.0.0.1", timeout_ready=30).add(uses=ExitingInit, name="gpu")
    with pytest.raises(StartupError, match=r"(?s)executor 'gpu' rep-0 exited with code 1.*no GPU found: this model"):
        flow.start()
    assert flow.pids() == []
