"""Record the sessions the golden tests replay: `python -m tests.recorded.record [NAME ...]`.

Each scenario drives Debian's Chromium through a page with the real recorder and keeps every
batch the recorder sent, as sent (gzip undone), in `tests/recorded/sessions/NAME.jsonl.gz`:
one line per batch, `{"sent_at": ..., "batch": {...}}`, in the order they left the browser.
The golden tests ingest these batches again, so a change to ingest, signals or the report
shows up as a change of the golden text, not of the recording. Record again only when the
recorder's wire format or a scenario changes.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Page, Request, sync_playwright

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.processes import free_port

SESSIONS_DIR = Path(__file__).parent / "sessions"
SITE_DIR = Path(__file__).parent / "site"
INGEST_KEY = "rdk_ing_recorded_sessions_0001"


@contextmanager
def scenario_site(service: str) -> Iterator[str]:
    """The scenario pages on a loopback origin of their own, any path serving `spa.html`
    (a single-page app's server answers every route with the app)."""
    page = (SITE_DIR / "spa.html").read_text()
    body = page.replace("{{SERVICE}}", service).replace("{{KEY}}", INGEST_KEY).encode()

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def embedded_service() -> Iterator[str]:
    """`replaydesk serve` on embedded defaults in a fresh data dir; its base URL."""
    with tempfile.TemporaryDirectory(prefix="replaydesk-record-") as data_dir:
        port = free_port()
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REPLAYDESK_")},
            "REPLAYDESK_DATA_DIR": data_dir,
            "REPLAYDESK_INGEST_KEYS": INGEST_KEY,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            process.wait(30)


def demo_checkout(page: Page, base: str) -> None:
    """The demo shop's broken checkout: two products, the payment step, the dead coupon button
    three times, five tries at "Place order", a reload, a last try."""
    page.goto(f"{base}/demo")
    page.wait_for_selector("#products button")
    for button in page.locator("#products button").all()[:2]:
        button.click()
        page.wait_for_timeout(400)
    page.click("a.button:has-text('Go to checkout')")
    page.wait_for_url("**/demo/checkout")
    page.fill("input[type=email]", "jane@example.com")
    page.click("#to-payment")
    page.wait_for_timeout(700)
    for field in page.locator("#step-payment input").all():
        if field.get_attribute("type") not in ("hidden", "submit", "button"):
            field.fill(
                "4111 1111 1111 1111" if "card" in (field.get_attribute("name") or "") else "42"
            )
    for _ in range(3):
        page.click("#apply-coupon")
        page.wait_for_timeout(500)
    for _ in range(5):
        page.click("#pay")
        page.wait_for_timeout(1200)
    page.reload()
    page.wait_for_timeout(1500)
    page.click("#to-payment")
    page.wait_for_timeout(500)
    page.click("#pay")
    page.wait_for_timeout(1500)


def spa_routes(page: Page, base: str) -> None:
    """A single-page app: links that push routes, a replaced filter, a hash, back, and a request
    to another host that never answers."""
    with scenario_site(base) as site:
        _spa_visit(page, site)


def _spa_visit(page: Page, site: str) -> None:
    page.goto(f"{site}/spa/home")
    page.wait_for_timeout(800)
    page.click("text=Orders")
    page.wait_for_timeout(500)
    page.click("text=Only open orders")
    page.wait_for_timeout(500)
    page.click("text=Order 7")
    page.wait_for_timeout(500)
    page.click("text=Details")
    page.wait_for_timeout(500)
    page.click("text=Refresh stock")
    page.wait_for_timeout(1500)
    page.go_back()
    page.wait_for_timeout(500)
    page.click("text=Order 7")
    page.wait_for_timeout(1500)


SCENARIOS: dict[str, Callable[[Page, str], None]] = {
    "demo-checkout": demo_checkout,
    "spa-routes": spa_routes,
}


def _batch_of(request: Request) -> dict[str, Any] | None:
    if request.method != "POST" or "/api/v1/ingest" not in request.url:
        return None
    body = request.post_data_buffer or b""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    sent_at = parse_qs(urlsplit(request.url).query).get("sent_at", [None])[0]
    return {"sent_at": None if sent_at is None else int(sent_at), "batch": json.loads(body)}


def record(name: str, base: str) -> Path:
    """Run one scenario; write its batches; return the file."""
    batches: list[dict[str, Any]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-NZ")
        page.on("request", lambda request: (b := _batch_of(request)) and batches.append(b))
        SCENARIOS[name](page, base)
        # The recorder's timer sends what is left: a batch sent by sendBeacon as the page goes
        # is not one a browser reports to the test.
        page.wait_for_timeout(6500)
        browser.close()
    SESSIONS_DIR.mkdir(exist_ok=True)
    path = SESSIONS_DIR / f"{name}.jsonl.gz"
    lines = "".join(json.dumps(b, separators=(",", ":")) + "\n" for b in batches)
    path.write_bytes(gzip.compress(lines.encode(), mtime=0))
    return path


def main(names: list[str]) -> None:
    with embedded_service() as base:
        for name in names or list(SCENARIOS):
            path = record(name, base)
            print(f"{name}: {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
