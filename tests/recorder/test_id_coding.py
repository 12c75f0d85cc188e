"""The recorder's node-ID coding, run by Node.js, is the rule the service undoes: the same text
in, the same text out as the Python statement of it that the service's tests check."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from service.ingest.id_deltas import ID_KEYS, restore_ids
from tests.service.ingest.test_id_deltas import code_ids, compact

RECORDER = Path(__file__).resolve().parents[2] / "recorder"
_RUN = """
const { codeIds } = await import(process.argv[1]);
const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(texts.map(codeIds)));
"""
TRICKY = ['","id":3', '{"id":4}', "\\", '"', ',"parentId":-2', "é", "\u2028"]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 4 else 4)
    if kind == 0:
        return rng.choice([None, True, False, 0, -1, 2**31 - 1, -(2**31) + 1, 1.5, 1e21])
    if kind == 1:
        return rng.randrange(-5, 5000)
    if kind == 2:
        return rng.choice(TRICKY)
    if kind == 3:
        return rng.choice([2**31, 2**53, -(2**31)]) if rng.random() < 0.05 else rng.randrange(9999)
    if kind in (4, 5):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = [*ID_KEYS, "type", "x", "id ", "Id", *TRICKY]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randrange(6))}


def coded_by_node(texts: list[str], tmp_path: Path) -> list[str]:
    node = shutil.which("node")
    esbuild = RECORDER / "node_modules" / ".bin" / "esbuild"
    if node is None or not esbuild.exists():
        pytest.fail("node or recorder/node_modules is missing: run `make setup`")
    module = tmp_path / "compress.mjs"
    subprocess.run(
        [
            str(esbuild),
            str(RECORDER / "src" / "compress.ts"),
            "--format=esm",
            f"--outfile={module}",
        ],
        check=True,
        capture_output=True,
    )
    run = subprocess.run(
        [node, "--input-type=commonjs", "-e", f"(async () => {{{_RUN}}})()", str(module)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out: list[str] = json.loads(run.stdout)
    return out


def test_the_recorders_coding_is_the_one_the_service_undoes(tmp_path: Path) -> None:
    rng = random.Random(25)
    texts = [
        compact(
            {
                "session_id": f"sess-js-{i:04d}",
                "seq": i,
                "events": [random_value(rng) for _ in range(4)],
            }
        )
        for i in range(400)
    ]
    from_node = coded_by_node(texts, tmp_path)
    assert from_node == [code_ids(text) for text in texts]
    coded = [(text, out) for text, out in zip(texts, from_node, strict=True) if out != text]
    assert len(coded) > 300  # most are in range
    for text, out in coded:
        assert restore_ids(out.encode()).decode() == text[:-1] + ',"id_deltas":true}'
