"""Every example in examples/ runs as a user would run it, and checks its own output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.py"))


def test_examples_are_found() -> None:
    assert {p.stem for p in EXAMPLES} >= {
        "quickstart",
        "endpoints",
        "typed_schemas",
        "results",
        "streaming",
        "exceptions",
    }


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(script: Path) -> None:
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=script.parent)
    assert run.returncode == 0, f"{script.name} failed:\n{run.stdout}\n{run.stderr[-3000:]}"


def test_readme_flow_example_runs(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "readme_example.py"
    script.write_text(code)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "['hello, world!']"
