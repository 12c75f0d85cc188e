"""The recorder comparison's loopback world: a site that embeds one recorder at a time (the demo
shop and a 450-row order list) and a collector that answers every recorder's uploads and logs
each request body as it arrived."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.server_process import free_port
from service.ingest.recorder_routes import DEMO_DIR

__all__ = ["ORDERS_PAGE", "Collector", "Upload", "bench_world", "demo_page", "orders_page"]

# A list-heavy page of the kind support teams see tickets about: hundreds of rows built, filtered
# and sorted on the main thread, so every interaction is a large DOM mutation to record.
ORDERS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Orders</title>
__RECORDER__
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0 2rem; }
  .row { display: flex; gap: 1rem; padding: 4px 0; border-bottom: 1px solid #eee; }
  .row .price { margin-left: auto; } .row.hidden { display: none; }
</style></head>
<body>
<h1>Orders</h1>
<input id="search" placeholder="Search orders"> <button id="more">Load more</button>
<button id="sort">Sort by price</button> <button id="details">Details</button>
<a id="shop" href="/demo">Shop</a>
<div id="panel"></div>
<div id="list"></div>
<script>
  // What a typical single-page app does on the main thread: build rows, filter and sort them
  // as people type and click, and compute a little on the way.
  let orders = [];
  function compute(ms) { const end = performance.now() + ms; while (performance.now() < end) {} }
  function row(order) {
    const el = document.createElement('div');
    el.className = 'row';
    el.innerHTML = '<span class="id"></span><span class="name"></span>'
      + '<span class="price"></span><button>Open</button>';
    el.children[0].textContent = '#' + order.id;
    el.children[1].textContent = order.name;
    el.children[2].textContent = '$' + order.price.toFixed(2);
    return el;
  }
  function load(count) {
    const start = orders.length;
    for (let i = start; i < start + count; i++) {
      orders.push({ id: 1000 + i, name: 'Order for customer ' + i, price: (i * 37) % 500 + 0.99 });
    }
    compute(40);
    const list = document.getElementById('list');
    for (const order of orders.slice(start)) list.appendChild(row(order));
  }
  document.getElementById('more').onclick = () => load(150);
  document.getElementById('sort').onclick = () => {
    orders.sort((a, b) => a.price - b.price);
    compute(30);
    document.getElementById('list').replaceChildren(...orders.map(row));
  };
  document.getElementById('search').oninput = (event) => {
    const text = event.target.value.toLowerCase();
    compute(10);
    for (const el of document.getElementById('list').children) {
      el.classList.toggle('hidden', !el.textContent.toLowerCase().includes(text));
    }
  };
  document.getElementById('details').onclick = () => {
    const panel = document.getElementById('panel');
    const line = '<p>Line item with a description of the product.</p>';
    panel.innerHTML = '<h2>Details</h2>' + line.repeat(60);
    compute(20);
  };
  load(300);
</script>
</body></html>
"""

# The product's demo pages embed the recorder with these two lines; the bench puts each
# recorder's own snippet in their place.
_DEMO_SNIPPET = re.compile(
    r'<script src="/recorder\.js"></script>\s*<script>ReplayDesk\.init\(.*?</script>'
)
_DEMO_PAGES = {"/demo": "index.html", "/demo/checkout": "checkout.html"}
_DEMO_ASSETS = {"/demo/demo.css": "text/css", "/demo/demo.js": "text/javascript"}
_PRODUCTS = [
    {"id": "mug", "name": "Enamel camp mug", "price": 14.0},
    {"id": "lamp", "name": "Brass desk lamp", "price": 89.0},
    {"id": "tote", "name": "Waxed canvas tote", "price": 42.0},
]


def demo_page(path: str, snippet: str) -> bytes | None:
    """The product's demo page at `path` with `snippet` in place of the recorder's."""
    template = _DEMO_PAGES.get(path)
    if template is None:
        return None
    html = (DEMO_DIR / template).read_text(encoding="utf-8")
    return _DEMO_SNIPPET.sub(lambda _: snippet, html).encode()


def orders_page(snippet: str) -> bytes:
    """The order list with `snippet` where a site puts its recorder."""
    return ORDERS_PAGE.replace("__RECORDER__", snippet).encode()


@dataclass
class Upload:
    """One request as the collector received it."""

    at: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    header_bytes: int
    body: bytes


@dataclass
class Collector:
    """What arrived at the collector, and the scripts and answers it serves."""

    origin: str = ""
    # file name -> code, served under /static/ (any version folder): recorders that load more
    # code at run time.
    scripts: dict[str, bytes] = field(default_factory=dict)
    # exact path -> JavaScript answered (a remote configuration loaded as a script)
    script_answers: dict[str, bytes] = field(default_factory=dict)
    # exact path or prefix -> (status, JSON body)
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> list[Upload]:
        """Every request logged since the last call."""
        with self.lock:
            taken, self.uploads = self.uploads, []
        return taken

    def answer(self, path: str) -> tuple[int, bytes, str]:
        name = path.rsplit("/", 1)[-1]
        if path.startswith("/static/") and name in self.scripts:
            return 200, self.scripts[name], "text/javascript"
        if path in self.script_answers:
            return 200, self.script_answers[path], "text/javascript"
        for prefix, (status, body) in self.answers.items():
            if path == prefix or (prefix.endswith("*") and path.startswith(prefix[:-1])):
                return status, body, "application/json"
        return 200, b"{}", "application/json"


@dataclass
class Site:
    """The site: the demo shop and the order list, with the snippet of the recorder on test."""

    origin: str = ""
    snippet: str = ""
    # /peer/<name> -> a recorder's bundle
    bundles: dict[str, bytes] = field(default_factory=dict)

    def render(self, method: str, path: str) -> tuple[int, bytes, str]:
        if method == "POST" and path == "/demo/api/checkout":
            problem = {"title": "Payment failed", "detail": "the payment provider timed out"}
            return 500, json.dumps(problem).encode(), "application/problem+json"
        if path == "/demo/api/products":
            return 200, json.dumps(_PRODUCTS).encode(), "application/json"
        if path in _DEMO_ASSETS:
            return 200, (DEMO_DIR / Path(path).name).read_bytes(), _DEMO_ASSETS[path]
        if path.startswith("/peer/") and path[6:] in self.bundles:
            return 200, self.bundles[path[6:]], "text/javascript"
        if path == "/orders":
            return 200, orders_page(self.snippet), "text/html; charset=utf-8"
        if path == "/blank":
            return 200, b"<!doctype html><title>Left</title><p>left", "text/html; charset=utf-8"
        page = demo_page(path, self.snippet)
        if page is not None:
            return 200, page, "text/html; charset=utf-8"
        return 404, b"not found", "text/plain"


def _site_handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self._serve("POST")

        def _serve(self, method: str) -> None:
            status, body, media_type = site.render(method, self.path.split("?", 1)[0])
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _collector_handler(collector: Collector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_OPTIONS(self) -> None:
            self._reply(204, b"", "text/plain")

        def do_GET(self) -> None:
            self._log("GET", b"")

        def do_POST(self) -> None:
            self._log("POST", self.rfile.read(int(self.headers.get("content-length") or 0)))

        def _log(self, method: str, body: bytes) -> None:
            path, _, query = self.path.partition("?")
            headers = {name.lower(): value for name, value in self.headers.items()}
            # What the request line and headers weigh on the wire (HTTP/1.1, uncompressed).
            header_bytes = len(self.requestline) + 2 + len(str(self.headers)) + 2
            with collector.lock:
                collector.uploads.append(
                    Upload(time.time(), method, path, query, headers, header_bytes, body)
                )
            self._reply(*collector.answer(path))

        def _reply(self, status: int, body: bytes, media_type: str) -> None:
            # A page that left (a beacon, an upload cut off by navigation) takes no answer; what
            # it sent was logged before.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._send(status, body, media_type)

        def _send(self, status: int, body: bytes, media_type: str) -> None:
            self.send_response(status)
            # Every recorder's uploads are cross-origin; the collector lets them all through.
            origin = self.headers.get("Origin")
            self.send_header("Access-Control-Allow-Origin", origin or "*")
            if origin:
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Vary", "Origin")
            requested = self.headers.get("Access-Control-Request-Headers")
            if requested:
                self.send_header("Access-Control-Allow-Headers", requested)
            self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
            self.send_header("Access-Control-Max-Age", "600")
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def bench_world() -> Iterator[tuple[Site, Collector]]:
    """The site and the collector, each on its own loopback origin."""
    site, collector = Site(), Collector()
    with _serving(_site_handler(site)) as site_origin:
        with _serving(_collector_handler(collector)) as collector_origin:
            site.origin, collector.origin = site_origin, collector_origin
            yield site, collector
