"""The recorder's uploads as they reach the service: compressed in a worker or, where the page
allows none, on the page itself; and as a page is left, its last batch once and compressed, and
a large change made just before leaving, with no later page to send it."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Service, Site, wait_for
from tests.browser.test_recorder import console_messages, session_id_of
from tests.processes import free_port

pytestmark = pytest.mark.browser

# Rows a list page builds and re-sorts: a change far larger than a beacon takes as plain JSON.
_BIG_CHANGE = """
const list = document.createElement('div');
document.body.appendChild(list);
for (let i = 0; i < 450; i++) {
  const row = document.createElement('div');
  row.innerHTML = '<span>#' + (1000 + i) + '</span><span>Order for customer ' + i + '</span>';
  list.appendChild(row);
}
"""


class Bodies:
    """Every ingest body that reached the service, beacons included: (gzip?, batch)."""

    def __init__(self) -> None:
        self.sent: list[tuple[bool, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def record(self, body: bytes) -> None:
        compressed = body[:2] == b"\x1f\x8b"
        with self.lock:
            self.sent.append(
                (compressed, json.loads(gzip.decompress(body) if compressed else body))
            )

    def carrying(self, marker: str) -> list[tuple[bool, dict[str, Any]]]:
        with self.lock:
            return [(c, b) for c, b in self.sent if marker in json.dumps(b["events"])]


@pytest.fixture
def bodies(service: Service) -> Iterator[tuple[str, Bodies]]:
    """A loopback relay in front of the service that keeps each body (a browser driver does
    not see a beacon's); its origin is the endpoint pages record to."""
    seen = Bodies()

    class Relay(BaseHTTPRequestHandler):
        def do_OPTIONS(self) -> None:
            self._relay(b"")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.record(body)
            self._relay(body)

        def _relay(self, body: bytes) -> None:
            skipped = {"host", "content-length", "connection"}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skipped}
            answer = httpx.request(
                self.command, service.base + self.path, headers=headers, content=body, timeout=10
            )
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in ("content-length", "connection", "content-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Relay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_the_last_batch_goes_out_once_across_a_navigation(
    page: Page, site: Site, service: Service, bodies: tuple[str, Bodies]
) -> None:
    relay, sent = bodies
    # Nothing leaves on a timer: the marker's batch is the one sealed as the page is left.
    site.configure(site.user_id, flushIntervalMs=60_000, endpoint=relay)
    page.goto(site.url("shop.html"))
    session_id = wait_for(lambda: session_id_of(page), what="the recording to start")
    page.wait_for_timeout(1500)  # the snapshot's batch has gone
    page.evaluate("console.log('last-words')")
    page.wait_for_timeout(300)
    page.goto(site.url("other.html"))
    page.wait_for_selector("#express")
    page.wait_for_timeout(2000)  # the next page adopts what the last one left in its outbox

    def stored() -> bool:
        return console_messages(service.events(str(session_id))).count("last-words") == 1

    wait_for(stored, what="the last batch to be stored")
    carrying = sent.carrying("last-words")
    assert len(carrying) == 1, [b["seq"] for _, b in carrying]
    assert carrying[0][0], "the last batch left uncompressed"


def test_a_large_change_just_before_leaving_arrives_without_a_next_page(
    page: Page, site: Site, service: Service, bodies: tuple[str, Bodies]
) -> None:
    relay, sent = bodies
    site.configure(site.user_id, flushIntervalMs=60_000, endpoint=relay)
    page.goto(site.url("shop.html"))
    session_id = wait_for(lambda: session_id_of(page), what="the recording to start")
    page.wait_for_timeout(1500)
    page.evaluate(_BIG_CHANGE)
    page.wait_for_timeout(300)
    page.evaluate("console.log('after-the-rows')")
    page.goto("about:blank")  # the visitor leaves the site: no later page sends anything

    def arrived() -> list[str] | None:
        messages = console_messages(service.events(str(session_id)))
        return messages if "after-the-rows" in messages else None

    wait_for(arrived, what="the page's last seconds")
    rows = sent.carrying("Order for customer 449")
    # One batch; a second copy only when the page was left while its upload was under way
    # (the upload is aborted and the batch beaconed; the service stores it once).
    assert len({batch["seq"] for _, batch in rows}) == 1
    assert all(compressed for compressed, _ in rows), "the large change left uncompressed"


# Counts the workers the page creates; or takes Worker away, as a strict CSP or an old browser does.
_COUNT_WORKERS = """
const NativeWorker = window.Worker;
window.workersMade = 0;
window.Worker = function (...args) { window.workersMade++; return new NativeWorker(...args); };
"""
_NO_WORKERS = "delete window.Worker; window.workersMade = 0;"


@pytest.mark.parametrize("workers", [_COUNT_WORKERS, _NO_WORKERS], ids=["worker", "no-worker"])
def test_batches_arrive_compressed_with_a_worker_and_without_one(
    page: Page, site: Site, service: Service, bodies: tuple[str, Bodies], workers: str
) -> None:
    relay, sent = bodies
    site.configure(site.user_id, flushIntervalMs=500, endpoint=relay)
    page.add_init_script(workers)
    page.goto(site.url("shop.html"))
    session_id = wait_for(lambda: session_id_of(page), what="the recording to start")
    for number in range(3):
        page.evaluate(f"console.log('worked-{number}')")
        page.wait_for_timeout(600)  # a batch each

    def arrived() -> bool:
        messages = console_messages(service.events(str(session_id)))
        return all(f"worked-{n}" in messages for n in range(3))

    wait_for(arrived, what="every batch")
    assert len(sent.sent) >= 3
    assert all(compressed for compressed, _ in sent.sent)
    made = page.evaluate("window.workersMade")
    assert made == (1 if workers == _COUNT_WORKERS else 0)
