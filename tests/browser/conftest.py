"""Browser tests: a real `replaydesk serve`, a customer's site on a second origin, Chromium."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from service.ingest.recorder_routes import RECORDER_BUNDLE
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.processes import DIES_WITH_THE_TESTS, REPLAYDESK, free_port
from tests.wire_vocabulary import assert_recorder_payloads_valid

SITE_DIR = Path(__file__).parent / "site"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
API_KEY = "browser-test-api-key-0123"
INGEST_KEY = "browser-test-ingest-key"
INGEST_PATH = "/api/v1/ingest"
# The site's /site.css (a test may change it).
SITE_CSS = ".brand{color:rgb(102, 51, 153)}"

T = TypeVar("T")


def wait_for(
    check: Callable[[], T | None],
    timeout: float = 15.0,
    what: str = "it",
    page: Page | None = None,
) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds.

    Give the `page` when `check` reads what its event handlers collect: Playwright delivers
    events only while one of its calls runs, so the wait between polls is one of its calls.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        if page is None:
            time.sleep(0.1)
        else:
            page.wait_for_timeout(100)


class Service:
    """A `replaydesk serve` child on embedded defaults, and its API as the tests read it."""

    def __init__(self, base: str, data_dir: Path) -> None:
        self.base = base
        self.data_dir = data_dir

    def get(self, path: str) -> httpx.Response:
        return httpx.get(
            self.base + path, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
        )

    def erase_user(self, user_id: str) -> None:
        response = httpx.delete(
            f"{self.base}/api/v1/users/{user_id}",
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text

    def sessions_of(self, user_id: str) -> list[dict[str, Any]]:
        response = self.get(f"/api/v1/users/{user_id}/sessions")
        assert response.status_code == 200, response.text
        sessions: list[dict[str, Any]] = response.json()["sessions"]
        return sessions

    def events(self, session_id: str) -> list[dict[str, Any]]:
        """The session's events; none while its first batch has not arrived.

        Every console, network, navigation, click and identify payload the recorder sent in
        them must fit its schema in wire/vocabulary.json (the service's scrubbing of text
        keeps a payload's shape).
        """
        response = self.get(f"/api/v1/sessions/{session_id}/events")
        if response.status_code == 404:
            return []
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()
        assert_recorder_payloads_valid(events)
        return events

    def report(self, session_id: str) -> dict[str, Any]:
        response = self.get(f"/api/v1/sessions/{session_id}/report")
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    def stored_bytes(self) -> Iterator[tuple[Path, bytes]]:
        """Every file the service wrote (database, blobs), gzip blobs uncompressed."""
        for path in sorted(self.data_dir.rglob("*")):
            if not path.is_file() or path.is_socket():
                continue
            content = path.read_bytes()
            if content[:2] == b"\x1f\x8b":
                content = gzip.decompress(content)
            yield path, content


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`replaydesk serve` on a fresh data dir, as `make run` starts it."""
    if not RECORDER_BUNDLE.exists():
        pytest.fail(f"{RECORDER_BUNDLE} is missing: run `make setup` to build the recorder")
    root = tmp_path_factory.mktemp("replaydesk")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLAYDESK_")}
    port = free_port()
    env.update(
        REPLAYDESK_DATA_DIR=str(root / "data"),
        REPLAYDESK_PORT=str(port),
        REPLAYDESK_API_KEYS=API_KEY,
        REPLAYDESK_INGEST_KEYS=INGEST_KEY,
    )
    log = root / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*REPLAYDESK, "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=DIES_WITH_THE_TESTS,
        )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(base + "/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, timeout=60, what="the service to become healthy")
        yield Service(base, root / "data")
    finally:
        process.terminate()
        process.wait(timeout=30)


class Site:
    """A customer's site on its own origin: pages that embed the recorder like the README says.

    Pages are rendered from tests/browser/site with the current `options` (given to
    `ReplayDesk.init`) and scripts to run before and after init. `/api/pay` answers 500.
    """

    def __init__(self, service: Service) -> None:
        self.service = service
        self.origin = ""
        self.user_id = ""
        self.options: dict[str, Any] = {}
        self.before_init = ""
        self.after_init = ""
        self.csrf = "csrf-token-not-for-recording"
        self.stylesheet = SITE_CSS

    def configure(self, user_id: str, **options: Any) -> None:
        """Pages record as `user_id` (none if empty) with these extra init options."""
        self.user_id = user_id
        self.options = {
            "key": INGEST_KEY,
            "endpoint": self.service.base,
            **({"userId": user_id} if user_id else {}),
            **options,
        }
        self.before_init = self.after_init = ""
        self.stylesheet = SITE_CSS

    def render(self, name: str) -> bytes | None:
        if name == "site.css":
            return self.stylesheet.encode()
        path = SITE_DIR / name
        if not path.is_file():
            return None
        html = path.read_text()
        for placeholder, value in {
            "{{SERVICE}}": self.service.base,
            "{{OPTIONS}}": json.dumps(self.options),
            "{{BEFORE_INIT}}": self.before_init,
            "{{AFTER_INIT}}": self.after_init,
            "{{CSRF}}": self.csrf,
        }.items():
            html = html.replace(placeholder, value)
        return html.encode()

    def url(self, name: str) -> str:
        return f"{self.origin}/{name}"


def _site_handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.split("?", 1)[0].lstrip("/")
            body = site.render(name)
            if body is None:
                self._answer(404, b"not found", "text/plain")
            elif name.endswith(".css"):
                self._answer(200, body, "text/css")
            else:
                self._answer(200, body, "text/html; charset=utf-8")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self._answer(500, b'{"error":"card_declined"}', "application/json")

        def _answer(self, status: int, body: bytes, media_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def site_server(service: Service) -> Iterator[Site]:
    site = Site(service)
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _site_handler(site))
    site.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture
def site(site_server: Site, request: pytest.FixtureRequest) -> Site:
    """The site, configured for this test's own user."""
    site_server.configure(user_id="user-" + re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name))
    return site_server


# Per module: one sync Playwright at a time, and other modules here start their own.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does)")
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile: its own localStorage, sessionStorage and IndexedDB."""
    browser_context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield browser_context
    browser_context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


class IngestWatch:
    """Every ingest request a page makes, and the answers it got."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.statuses: list[int] = []
        page.on("request", self._request)
        page.on("response", self._response)

    def _request(self, request: Any) -> None:
        if INGEST_PATH in request.url:
            self.requests.append(request.url)

    def _response(self, response: Any) -> None:
        if INGEST_PATH in response.url:
            self.statuses.append(response.status)


@pytest.fixture
def ingest_watch(page: Page) -> IngestWatch:
    return IngestWatch(page)
