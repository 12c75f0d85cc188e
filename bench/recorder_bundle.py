"""Size of the recorder bundle as browsers download it (gzip), and what its parts weigh."""

from __future__ import annotations

import gzip

from bench.figures import format_table, verdict
from bench.recorder_harness import RECORDER_JS, bundle_like_the_recorder

__all__ = ["TARGET_GZIP_BYTES", "run"]

TARGET_GZIP_BYTES = 30 * 1024
# rrweb's packages alone, bundled the same way as the recorder (so without canvas recording):
# the difference is ReplayDesk's own code.
_RRWEB_PARTS = {
    "rrweb record": "import {record} from '@rrweb/record'; window.r = record;",
    "rrweb record + console plugin": (
        "import {record} from '@rrweb/record';"
        "import {getRecordConsolePlugin} from '@rrweb/rrweb-plugin-console-record';"
        "window.r = [record, getRecordConsolePlugin];"
    ),
}


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


def _gzip_size(code: bytes) -> int:
    return len(gzip.compress(code, compresslevel=9))


def run(quick: bool) -> None:
    """Print the bundle's size, raw and gzip -9, and its parts (the same in quick mode)."""
    if not RECORDER_JS.exists():
        print(f"{RECORDER_JS} is missing: run `make setup` first")
        return
    bundle = RECORDER_JS.read_bytes()
    gzipped = _gzip_size(bundle)
    rows = [["recorder.js (as served)", _kib(len(bundle)), _kib(gzipped)]]
    parts = bundle_like_the_recorder(_RRWEB_PARTS)
    if parts:
        for name, code in parts.items():
            rows.append([name, _kib(len(code)), _kib(_gzip_size(code))])
        rrweb = parts["rrweb record + console plugin"]
        rows.append(
            [
                "ReplayDesk's own code (difference)",
                _kib(len(bundle) - len(rrweb)),
                _kib(gzipped - _gzip_size(rrweb)),
            ]
        )
    print("Recorder bundle size")
    print(format_table(["part", "minified", "gzip -9"], rows))
    print(
        f"target: recorder.js <= {_kib(TARGET_GZIP_BYTES)} gzipped -> "
        f"{verdict(gzipped <= TARGET_GZIP_BYTES)} ({_kib(gzipped)})"
    )
