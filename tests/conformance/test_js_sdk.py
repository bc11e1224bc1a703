"""The JS/TS SDK (sdk/js) against a live Flow: builds it with tsc and runs its node:test suite.

The suite's scenario table reads the Flow's addresses from DOCWIRE_GATEWAY and
DOCWIRE_EXECUTORS; its unit tests need no network. The npm packages come from
``make tools-js`` (npm ci); a missing install fails the test, naming that command.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from docwire import Flow

from .support import REPO_ROOT

JS_SDK = REPO_ROOT / "sdk" / "js"
#: Seconds the build and the whole node suite may take (about 10 on a 2-core machine).
NODE_SUITE_TIMEOUT = 300.0


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: install Node 20 (with npm) to run the JS SDK tests", pytrace=False)
    if not (JS_SDK / "node_modules" / ".bin" / "tsc").is_file():
        pytest.fail(f"the JS SDK's packages are not installed in {JS_SDK}: run `make tools-js`", pytrace=False)
    return npm


def _explain(args: list[str], returncode: int | None, stdout: str, stderr: str) -> str:
    return f"$ {' '.join(args)}\nexit code {returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}"


@pytest.mark.timeout(NODE_SUITE_TIMEOUT + 60)
def test_js_sdk_suite_passes_against_a_live_gateway(sdk_flow: Flow) -> None:
    npm = _npm()
    env = {
        **os.environ,
        "DOCWIRE_GATEWAY": f"127.0.0.1:{sdk_flow.port}",
        "DOCWIRE_EXECUTORS": ",".join(
            address for addresses in sdk_flow.executor_addresses.values() for address in addresses
        ),
    }
    args = [npm, "test", "--prefix", str(JS_SDK)]
    try:
        done = subprocess.run(
            args,
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=NODE_SUITE_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
        pytest.fail(f"did not finish within {NODE_SUITE_TIMEOUT:g}s\n{_explain(args, None, stdout, stderr)}")
    assert done.returncode == 0, _explain(args, done.returncode, done.stdout, done.stderr)
    # node:test's closing summary: tests ran, and none failed, was cancelled or skipped.
    summary = dict(re.findall(r"^\S+ (tests|pass|fail|cancelled|skipped) (\d+)$", done.stdout, re.MULTILINE))
    assert int(summary.get("pass", "0")) > 0, done.stdout
    assert summary.get("pass") == summary.get("tests"), done.stdout
    assert (summary.get("fail"), summary.get("cancelled"), summary.get("skipped")) == ("0", "0", "0"), done.stdout
