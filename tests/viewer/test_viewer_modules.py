"""The viewer's TypeScript modules under node's test runner (`npm test` in viewer/): the cURL
builder that leaves secrets out, and the links to a moment."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

VIEWER = Path(__file__).resolve().parents[2] / "viewer"


def test_the_viewer_unit_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: the viewer's bundle and its tests need Node.js")
    if not (VIEWER / "node_modules" / "esbuild").is_dir():
        pytest.fail("viewer/node_modules is missing: run `make setup`")
    run = subprocess.run(
        [node, "tests/run.mjs"], cwd=VIEWER, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout, run.stdout
