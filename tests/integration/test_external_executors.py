"""Executors served on their own (``docwire executor serve``) used by a Flow elsewhere, and executors bound
to a chosen interface: two loopback addresses stand for two machines."""

from __future__ import annotations

import socket

import pytest
from executors import Appender, TextDoc
from standalone import serving

from docwire import Deployment, Flow
from docwire_client import ExecutorUnavailable

REMOTE_HOST = "127.0.0.2"
LOCAL_HOST = "127.0.0.3"


def _refuses(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) != 0


def test_a_flow_calls_an_executor_served_elsewhere_as_any_other() -> None:
    command = ["executor", "serve", "--uses", "executors.Appender", "--name", "remote", "--host", REMOTE_HOST]
    with serving([*command, "--uses-with", '{"suffix": "[far]"}']) as remote:
        assert remote.addresses == {"grpc": f"{REMOTE_HOST}:{remote.port}"}
        flow = (
            Flow(host="127.0.0.1")
            .add(uses=Appender, name="near", host=LOCAL_HOST)
            .add(name="remote", host=REMOTE_HOST, port=remote.port, external=True)
        )
        with flow:
            near = flow.executor_addresses["near"][0]
            assert near.startswith(f"{LOCAL_HOST}:")
            assert _refuses("127.0.0.1", int(near.rsplit(":", 1)[1])), "it bound more than the chosen interface"
            assert flow.executor_addresses["remote"] == (f"{REMOTE_HOST}:{remote.port}",)
            assert len(flow.pids()) == 2  # the near executor and the gateway: nothing started for the remote one
            (response,) = flow.post("/x", [TextDoc(text="a")], return_responses=True)
            assert response.docs[0].text == "a[near][far]"
            assert [r.executor for r in response.routes] == ["gateway", "near", "remote"]
            assert response.parameters["__results__"]["remote/rep-0"]["replica"] == 0
            assert flow.is_flow_ready()

            remote.stop()  # the other machine goes away: the error names the executor and where it was
            with pytest.raises(ExecutorUnavailable, match=rf"remote.*{REMOTE_HOST}:{remote.port}"):
                flow.post("/x", [TextDoc(text="b")])
            assert not flow.is_flow_ready()


def test_a_deployment_without_gateway_serves_its_executor_for_a_flow_elsewhere() -> None:
    served = Deployment(uses=Appender, name="far", include_gateway=False, host=REMOTE_HOST, uses_with={"suffix": "!"})
    with served:
        (address,) = served.executor_addresses["far"]
        host, port = address.rsplit(":", 1)
        assert host == REMOTE_HOST
        assert len(served.pids()) == 1  # the replica alone
        with Flow(host="127.0.0.1").add(name="far", host=REMOTE_HOST, port=int(port), external=True) as flow:
            assert flow.post("/x", [TextDoc(text="a")], return_type=TextDoc).text == "a!"
