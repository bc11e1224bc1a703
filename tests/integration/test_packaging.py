"""The Python SDK installs and works without the server."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_sdk_wheel_holds_the_client_and_the_contract_only(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT / "sdk" / "python"),
        ],
        check=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("docwire_client-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if not name.startswith("docwire_client-")}
    assert packages == {"docwire_client", "docwire_contract"}
    assert "docwire_contract/v1/request_pb2.py" in names

    # Import it with the server off the path: the client works, the server is not there.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
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
