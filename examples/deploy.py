"""Beyond one machine: an executor served elsewhere, used by a Flow with ``external=True``; then the same
pipeline exported as Kubernetes manifests and a docker compose file (examples/deploy/, README "Deploying").

Run it: ``.venv/bin/python examples/deploy.py``. 127.0.0.2 stands for another machine (on Linux every
127.x address is loopback). On a real one, ``docwire executor serve --uses Shouter --py-module
executors.py --port 8100`` does what the Deployment below does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from docwire import BaseDoc, Deployment, DocList, Flow

HERE = Path(__file__).parent / "deploy"
OTHER_MACHINE = "127.0.0.2"


class TextDoc(BaseDoc):
    text: str = ""


def main() -> None:
    modules = [str(HERE / "executors.py")]
    # On "the other machine": the executor alone (no gateway), bound to that machine's address.
    far = Deployment(uses="Shouter", py_modules=modules, name="shouter", include_gateway=False, host=OTHER_MACHINE)
    with far:
        (address,) = far.executor_addresses["shouter"]
        port = int(address.rsplit(":", 1)[1])
        # Here: a Flow whose first executor is that one; the second is launched on this machine.
        flow = (
            Flow()
            .add(name="shouter", host=OTHER_MACHINE, port=port, external=True)
            .add(uses="Exclaimer", py_modules=modules, name="exclaimer")
        )
        with flow:
            docs = flow.post("/shout", [TextDoc(text="hello")], return_type=DocList[TextDoc])
            print(docs.text)  # ['HELLO!']
            assert docs.text == ["HELLO!"]

    # The same pipeline for a cluster: a Deployment + Service per executor and for the gateway.
    with tempfile.TemporaryDirectory() as out:
        pipeline = Flow.load_config(HERE / "flow.yml")
        written = pipeline.to_kubernetes_yaml(Path(out) / "k8s", k8s_namespace="demo")
        print(sorted(p.name for p in written))  # ['exclaimer.yml', 'gateway.yml', 'shouter.yml']
        assert "shouter=dns:///shouter.demo.svc.cluster.local:8100" in (Path(out) / "k8s" / "gateway.yml").read_text()
        compose = pipeline.to_docker_compose_yaml(Path(out) / "compose.yml")
        assert "shouter=dns:///shouter:8100" in compose.read_text()


if __name__ == "__main__":
    main()
