"""The two distributions build and work as a user installs them: without make, without the lock.

The client's wheel holds only the client and the contract. Both wheels in a fresh virtualenv,
their dependencies resolved by pip from the ranges the pyprojects declare, give a working
``docwire`` command: it serves a Flow from a YAML file, which that virtualenv's own Python calls.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).parents[2]
#: The project's pinned pip (requirements/lock.txt) installs into the new virtualenv (``--python``),
#: which is then created without one: ensurepip's pip 23.2 takes 10 s to set up and twice as long
#: as pip 26 to resolve from the large indexes of grpcio, numpy and protobuf.
PIP = [sys.executable, "-m", "pip"]
#: The banner's URI lines: ``URI  grpc://127.0.0.1:40123``.
ANNOUNCED = re.compile(r"URI\s+(grpc|http)://127\.0\.0\.1:(\d+)")

EXECUTORS = """
from docwire import BaseDoc, DocList, Executor, requests


class TextDoc(BaseDoc):
    text: str = ""


class Shout(Executor):
    def __init__(self, suffix: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.suffix = suffix

    @requests(on="/shout")
    def shout(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for doc in docs:
            doc.text = doc.text.upper() + self.suffix
"""

FLOW = """
jtype: Flow
with:
  host: 127.0.0.1
  port: [0, 0]
  protocol: [grpc, http]
executors:
  - name: shout
    uses: Shout
    uses_with: {suffix: "!"}
    py_modules: [executors.py]
    replicas: 2
"""

#: Run by the virtualenv's Python with the gateway's URIs as arguments.
CALLER = """
import sys

import docwire
import docwire_client
from docwire import BaseDoc, Client, DocList

for module in (docwire, docwire_client):
    assert module.__file__.startswith(sys.prefix), f"{module.__name__} from {module.__file__}, not the venv"


class TextDoc(BaseDoc):
    text: str = ""


for uri in sys.argv[1:]:
    with Client(host=uri) as client:
        docs = client.post("/shout", [TextDoc(text="a"), TextDoc(text="b")], return_type=DocList[TextDoc])
    assert docs.text == ["A!", "B!"], (uri, docs.text)
    print(uri, docs.text)
"""


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both wheels, built with the build backend pinned in the lock (no isolated build environment)."""
    out = tmp_path_factory.mktemp("wheels")
    command = [*PIP, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out)]
    subprocess.run([*command, str(ROOT / "sdk" / "python"), str(ROOT)], check=True, timeout=180)
    (client,) = out.glob("docwire_client-*.whl")
    (server,) = out.glob("docwire-*.whl")
    return {"client": client, "server": server}


def test_sdk_wheel_holds_the_client_and_the_contract_only(wheels: dict[str, Path], tmp_path: Path) -> None:
    names = zipfile.ZipFile(wheels["client"]).namelist()
    packages = {name.split("/")[0] for name in names if not name.startswith("docwire_client-")}
    assert packages == {"docwire_client", "docwire_contract"}
    assert "docwire_contract/v1/request_pb2.py" in names

    # Import it with the server off the path: the client works, the server is not there.
    site = tmp_path / "site"
    zipfile.ZipFile(wheels["client"]).extractall(site)
    code = f"""
import sys
sys.path = [p for p in sys.path if not p.rstrip("/").endswith(("server", "sdk/python"))]
sys.path.insert(0, {str(site)!r})
import docwire_client
from docwire_contract.v1 import request_pb2
client = docwire_client.Client(host="grpc://127.0.0.1:1")
assert docwire_client.__file__.startswith({str(site)!r}), docwire_client.__file__
try:
    import docwire
except ImportError:
    pass
else:
    raise AssertionError("the server was importable")
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


#: Left out of the user's environment: the source tree on the path, and the ban on bytecode files
#: (the wheels install with ``--no-compile``; each module is compiled once, when first imported,
#: instead of all of them by pip or, with the ban, again in every process).
NOT_THE_USERS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")


def _user_environment() -> dict[str, str]:
    """This environment (PIP_FIND_LINKS and the like included) as a user's shell would have it."""
    env = {key: value for key, value in os.environ.items() if key not in NOT_THE_USERS}
    return {**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


def _announced_ports(banner: IO[str]) -> dict[str, int]:
    """The gateway's port per protocol, read from the banner ``docwire serve`` prints when ready."""
    ports: dict[str, int] = {}
    seen: list[str] = []
    for _ in range(200):  # bounded: the banner comes within a few dozen lines
        line = banner.readline()
        if not line:
            break
        seen.append(line)
        if match := ANNOUNCED.search(line):
            ports[match.group(1)] = int(match.group(2))
        if len(ports) == 2:
            return ports
    raise AssertionError("docwire serve announced no grpc and http address:\n" + "".join(seen))


@pytest.mark.timeout(900)  # a hang guard for a first run that downloads every dependency
def test_wheels_install_without_the_lock_and_serve_a_yaml_flow(wheels: dict[str, Path], tmp_path: Path) -> None:
    env = _user_environment()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120, env=env)
    python, docwire = venv / "bin" / "python", venv / "bin" / "docwire"
    install = [*PIP, "--python", str(python), "install", "--quiet", "--no-compile"]
    subprocess.run([*install, str(wheels["client"]), str(wheels["server"])], check=True, timeout=600, env=env)

    (tmp_path / "executors.py").write_text(EXECUTORS)
    (tmp_path / "flow.yml").write_text(FLOW)
    (tmp_path / "caller.py").write_text(CALLER)
    server = subprocess.Popen(
        [str(docwire), "serve", str(tmp_path / "flow.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert server.stderr is not None
        ports = _announced_ports(server.stderr)
        grpc_uri, http_uri = f"grpc://127.0.0.1:{ports['grpc']}", f"http://127.0.0.1:{ports['http']}"
        ping = subprocess.run([str(docwire), "ping", grpc_uri], capture_output=True, text=True, timeout=60, env=env)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        call = [str(python), str(tmp_path / "caller.py"), grpc_uri, http_uri]
        caller = subprocess.run(call, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
        assert caller.returncode == 0, caller.stdout + caller.stderr
        assert caller.stdout.splitlines() == [f"{grpc_uri} ['A!', 'B!']", f"{http_uri} ['A!', 'B!']"]
        server.send_signal(signal.SIGINT)
        _, log = server.communicate(timeout=60)
        assert server.returncode == 0, log
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=10)
