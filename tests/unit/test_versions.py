"""The server, the three SDKs and the contract carry one version number."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import docwire
import docwire_client

ROOT = Path(__file__).parents[2]


def _versions() -> dict[str, str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    sdk = tomllib.loads((ROOT / "sdk" / "python" / "pyproject.toml").read_text())
    go = re.search(r'const Version = "([^"]+)"', (ROOT / "sdk" / "go" / "docwire" / "version.go").read_text())
    assert go is not None
    pinned = next(d for d in root["project"]["dependencies"] if d.startswith("docwire-client=="))
    return {
        "server (pyproject)": root["project"]["version"],
        "server (__version__)": docwire.__version__,
        "server's pin of the client": pinned.split("==")[1],
        "python sdk (pyproject)": sdk["project"]["version"],
        "python sdk (__version__)": docwire_client.__version__,
        "go sdk": go.group(1),
        "js sdk": json.loads((ROOT / "sdk" / "js" / "package.json").read_text())["version"],
    }


def test_every_component_has_the_same_version() -> None:
    versions = _versions()
    assert len(set(versions.values())) == 1, versions
