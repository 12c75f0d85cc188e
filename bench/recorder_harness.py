"""What the recorder benchmarks share: a `replaydesk serve` child, a plain site, and Chromium."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from playwright.sync_api import Browser, sync_playwright

from bench.ingest_server import BENCH_API_KEY, BENCH_INGEST_KEY
from bench.server_process import free_port
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.processes import REPLAYDESK

__all__ = [
    "RECORDER_DIR",
    "RECORDER_JS",
    "Served",
    "bundle_like_the_recorder",
    "chromium",
    "replaydesk_serve",
    "static_site",
]

ROOT = Path(__file__).resolve().parent.parent
RECORDER_DIR = ROOT / "recorder"
RECORDER_JS = ROOT / "service" / "static" / "recorder.js"
READY_TIMEOUT_SECONDS = 60.0
# Bundles each given module source the way recorder/build.mjs bundles the recorder, in memory;
# prints {name: code}.
_BUNDLE_SCRIPT = """
import { bundle, options } from './build.mjs';
const sources = JSON.parse(process.argv[1]);
const bundles = {};
for (const [name, contents] of Object.entries(sources)) {
  const out = await bundle({ ...options, entryPoints: undefined, sourcemap: false,
    stdin: { contents, resolveDir: process.cwd(), loader: 'ts' }, logLevel: 'silent' });
  bundles[name] = out.code;
}
console.log(JSON.stringify(bundles));
"""


class Served(NamedTuple):
    """A running service: where it answers, and where it keeps its data."""

    base: str
    data_dir: Path


@contextlib.contextmanager
def replaydesk_serve() -> Iterator[Served]:
    """`replaydesk serve` on embedded defaults in a temporary data dir."""
    if not RECORDER_JS.exists():
        raise SystemExit(f"{RECORDER_JS} is missing: run `make setup` first")
    with tempfile.TemporaryDirectory(prefix="replaydesk-bench-") as root:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("REPLAYDESK_")}
        env.update(
            REPLAYDESK_DATA_DIR=str(Path(root) / "data"),
            REPLAYDESK_PORT=str(port),
            REPLAYDESK_API_KEYS=BENCH_API_KEY,
            REPLAYDESK_INGEST_KEYS=BENCH_INGEST_KEY,
        )
        log = Path(root) / "serve.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*REPLAYDESK, "serve"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + READY_TIMEOUT_SECONDS
            while not _healthy(base):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("replaydesk serve did not start:\n" + log.read_text())
                time.sleep(0.2)
            yield Served(base, Path(root) / "data")
        finally:
            process.terminate()
            process.wait(timeout=30)


def bundle_like_the_recorder(sources: dict[str, str]) -> dict[str, bytes] | None:
    """Each module source bundled with the recorder's build options (rrweb as the recorder
    has it); None, with the reason printed, without node or the recorder's packages."""
    node = shutil.which("node")
    if node is None or not (RECORDER_DIR / "node_modules").is_dir():
        print("(node or recorder/node_modules is missing: run `make setup`)")
        return None
    result = subprocess.run(
        [node, "--input-type=module", "-e", _BUNDLE_SCRIPT, json.dumps(sources)],
        cwd=RECORDER_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        print(f"(could not bundle: {result.stderr.strip()[:300]})")
        return None
    bundles: dict[str, str] = json.loads(result.stdout)
    return {name: code.encode() for name, code in bundles.items()}


def _healthy(base: str) -> bool:
    try:
        return httpx.get(base + "/health", timeout=2, trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def static_site(render: Callable[[str], bytes | None]) -> Iterator[str]:
    """A site on its own loopback origin: `render(path)` gives a page's HTML, None for 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = render(self.path)
            self.send_response(404 if body is None else 200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
