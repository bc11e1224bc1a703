"""Replicas behind one DNS name (a Kubernetes headless Service), balanced by the gateway's own channel.

A DNS server on loopback answers for ``encoder.docwire.svc`` with one A record per replica, each a
``docwire executor serve`` on its own 127.0.0.x address and the same port; the gateway (``docwire gateway
serve``, as the manifests run it) calls ``dns://127.0.0.1:<dns port>/encoder.docwire.svc:<port>``.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack

from dns_answers import HeadlessService, dns_server
from executors import TextDoc
from standalone import Served, start

from docwire_client import Client

NAME = "encoder.docwire.svc"
REPLICAS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
LATER = "127.0.0.5"
#: Replicas close each connection after this many seconds, so the gateway resolves the name again.
CONNECTION_AGE_S = "1"
#: Enough requests for gRPC to resolve again after a connection closed (bounded: the loop gives up after this).
MAX_REQUESTS_FOR_NEW_REPLICA = 3000


def _replica(host: str, port: int, replica_id: int) -> list[str]:
    return [
        "executor", "serve", "--uses", "executors.Appender", "--name", "encoder", "--host", host,
        "--port", str(port), "--replica-id", str(replica_id), "--max-connection-age", CONNECTION_AGE_S,
    ]  # fmt: skip


def _served_by(client: Client, count: int) -> Counter[int]:
    responses = client.post("/x", [TextDoc(text=str(i)) for i in range(count)], request_size=1, return_responses=True)
    replicas: Counter[int] = Counter()
    for response in responses:
        (result,) = response.parameters["__results__"].values()
        replicas[result["replica"]] += 1
    return replicas


def test_the_gateway_balances_over_every_replica_a_dns_name_answers_with() -> None:
    service = HeadlessService(NAME, REPLICAS)
    with ExitStack() as stack:
        dns_port = stack.enter_context(dns_server(service))
        first = start(_replica(REPLICAS[0], 0, 0))
        replicas: list[Served] = [first]
        stack.callback(lambda: [r.stop() for r in replicas])
        port = first.port
        replicas += [start(_replica(host, port, i)) for i, host in enumerate(REPLICAS[1:], start=1)]
        target = f"dns://127.0.0.1:{dns_port}/{NAME}:{port}"
        gateway = start(["gateway", "serve", "--host", "127.0.0.1", "--executor", f"encoder={target}"])
        stack.callback(gateway.stop)
        client = stack.enter_context(Client(host=f"grpc://{gateway.addresses['grpc']}"))

        served = _served_by(client, 30)
        assert sorted(served) == [0, 1, 2], f"every replica gets requests: {served}"
        assert max(served.values()) - min(served.values()) <= 1, f"round-robin: {served}"

        # A pod becomes ready: the name now answers with it too. gRPC does not poll DNS; it resolves again
        # when a connection closes (here every second, --max-connection-age), and then sends it requests.
        replicas.append(start(_replica(LATER, port, 3)))
        service.set_addresses([*REPLICAS, LATER])
        total: Counter[int] = Counter()
        for _ in range(MAX_REQUESTS_FOR_NEW_REPLICA // 10):
            total += _served_by(client, 10)
            if total[3]:
                break
        assert total[3] > 0, f"the replica added to the DNS answer got no request: {total}"
        assert service.queries > 2
