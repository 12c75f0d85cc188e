"""Size of the recorder bundle as browsers download it (gzip), and what its parts weigh."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess

from bench.figures import format_table, verdict
from bench.recorder_harness import RECORDER_DIR, RECORDER_JS

__all__ = ["TARGET_GZIP_BYTES", "run"]

TARGET_GZIP_BYTES = 30 * 1024
# Bundles the same way build.mjs does, in memory: the whole recorder, and rrweb's packages
# alone (built the same way, so without canvas recording), so the difference is ReplayDesk's
# own code.
_PARTS_SCRIPT = """
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { options } from './build.mjs';
const alone = (code) => ({ ...options, entryPoints: undefined, outfile: undefined,
  stdin: { contents: code, resolveDir: process.cwd(), loader: 'ts' } });
const variants = {
  'rrweb record': alone("import {record} from '@rrweb/record'; window.r = record;"),
  'rrweb record + console plugin': alone(
    "import {record} from '@rrweb/record';" +
    "import {getRecordConsolePlugin} from '@rrweb/rrweb-plugin-console-record';" +
    "window.r = [record, getRecordConsolePlugin];"),
};
const sizes = {};
for (const [name, variant] of Object.entries(variants)) {
  const out = await build({ ...variant, write: false, sourcemap: false, logLevel: 'silent' });
  const code = out.outputFiles[0].contents;
  sizes[name] = [code.length, gzipSync(code, { level: 9 }).length];
}
console.log(JSON.stringify(sizes));
"""


def _part_sizes() -> dict[str, list[int]] | None:
    """Raw and gzip sizes of rrweb's parts, or None without node and the recorder's packages."""
    node = shutil.which("node")
    if node is None or not (RECORDER_DIR / "node_modules").is_dir():
        return None
    result = subprocess.run(
        [node, "--input-type=module", "-e", _PARTS_SCRIPT],
        cwd=RECORDER_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        print(f"(could not size rrweb's parts: {result.stderr.strip()[:300]})")
        return None
    sizes: dict[str, list[int]] = json.loads(result.stdout)
    return sizes


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


def run(quick: bool) -> None:
    """Print the bundle's size, raw and gzip -9, and its parts (the same in quick mode)."""
    if not RECORDER_JS.exists():
        print(f"{RECORDER_JS} is missing: run `make setup` first")
        return
    bundle = RECORDER_JS.read_bytes()
    gzipped = len(gzip.compress(bundle, compresslevel=9))
    rows = [["recorder.js (as served)", _kib(len(bundle)), _kib(gzipped)]]
    parts = _part_sizes()
    if parts:
        for name, (raw, packed) in parts.items():
            rows.append([name, _kib(raw), _kib(packed)])
        rrweb_raw, rrweb_packed = parts["rrweb record + console plugin"]
        rows.append(
            [
                "ReplayDesk's own code (difference)",
                _kib(len(bundle) - rrweb_raw),
                _kib(gzipped - rrweb_packed),
            ]
        )
    print("Recorder bundle size")
    print(format_table(["part", "minified", "gzip -9"], rows))
    print(
        f"target: recorder.js <= {_kib(TARGET_GZIP_BYTES)} gzipped -> "
        f"{verdict(gzipped <= TARGET_GZIP_BYTES)} ({_kib(gzipped)})"
    )
