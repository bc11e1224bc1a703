"""Prometheus metrics of a Flow: the gateway and each executor replica on their own monitoring port."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from docwire import BaseDoc, DocList, Executor, Flow, requests


class TextDoc(BaseDoc):
    text: str = ""


class Greeter(Executor):
    @requests(on="/greet")
    async def greet(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for doc in docs:
            doc.text = f"hello, {doc.text}!"


def scrape(port: int, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with ``labels`` on a monitoring port, as Prometheus would read it."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as reply:
        text = reply.read().decode()
    families = text_string_to_metric_families(text)
    return next(s.value for f in families for s in f.samples if s.name == name and labels.items() <= s.labels.items())


def main() -> None:
    # port_monitoring=9090 would fix the gateway's port; Flow.add(monitoring=..., port_monitoring=...) an executor's.
    with Flow(host="127.0.0.1", monitoring=True).add(uses=Greeter, name="greeter") as flow:
        flow.post("/greet", [TextDoc(text=str(i)) for i in range(5)], request_size=2)
        print(sorted(flow.monitoring_ports))  # ['gateway', 'greeter/rep-0']
        ports = flow.monitoring_ports
        requests_ok = scrape(ports["gateway"], "docwire_gateway_requests_total", endpoint="/greet", status="SUCCESS")
        documents = scrape(ports["greeter/rep-0"], "docwire_executor_documents_total", endpoint="/greet")
    print(f"gateway: {requests_ok:.0f} requests; greeter: {documents:.0f} documents")
    assert (requests_ok, documents) == (3, 5)


if __name__ == "__main__":
    main()
