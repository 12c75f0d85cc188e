"""The replay page opened from a live link, in Debian's Chromium: the session so far, then what
the customer does a second or two later, and the end of the session."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_viewer_page import element, paragraph_added, snapshot, text
from tests.conftest import API_KEY, INGEST, make_settings
from tests.processes import free_port
from tests.recordings import batch, meta

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SID = "sess-live-browser-1"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    """The service on loopback, on a SQLite copy and the test Redis (the live feed's)."""
    from service.web.app import create_app
    from tests.conftest import TEST_REDIS_URL

    data_dir = tmp_path_factory.mktemp("live")
    database = data_dir / "replaydesk.db"
    database.write_bytes(sqlite_template.read_bytes())
    port = free_port()
    settings = make_settings(
        data_dir,
        f"sqlite+aiosqlite:///{database}",
        TEST_REDIS_URL,
        public_url=f"http://127.0.0.1:{port}",
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        yield context.new_page()
        browser.close()


def now_ms() -> int:
    return int(time.time() * 1000)


def send(base: str, seq: int, events: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    answer = httpx.post(
        f"{base}/api/v1/ingest",
        content=msgspec.json.encode(batch(SID, seq, events, user_id="u-live", **extra)),
        headers=INGEST,
    )
    assert answer.status_code == 202, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_live_link_follows_the_customer_and_says_when_the_session_ends(
    base: str, page: Page
) -> None:
    start = now_ms()
    body = [element(10, "h1", {}, text(11, "Checkout"))]
    send(base, 0, [meta(start, "https://shop.test/cart"), snapshot(start + 5, *body)])
    minted = httpx.post(f"{base}/api/v1/sessions/{SID}/links", json={"live": True}, headers=AUTH)
    assert minted.status_code == 201, minted.text
    page.goto(minted.json()["url"])
    status = page.get_by_test_id("live-status")
    status.and_(page.locator("[data-state=live]")).wait_for(timeout=15_000)
    replay = page.frame_locator("[data-testid=replay-frame] iframe")
    replay.get_by_text("Checkout").wait_for(timeout=10_000)

    # The customer goes on: the agent sees it a second or two later.
    sent_at = time.monotonic()
    answer = send(base, 1, [paragraph_added(now_ms(), 50, "Coupon applied")])
    assert answer["live"] is True
    replay.get_by_text("Coupon applied").wait_for(timeout=10_000)
    seen_after = time.monotonic() - sent_at
    print(f"customer's change seen in the live replay {seen_after * 1000:.0f} ms after it was sent")
    assert seen_after < 5.0
    page.screenshot(path=str(ARTIFACTS / "live-view.png"))

    send(base, 2, [paragraph_added(now_ms(), 60, "Order placed")], final=True)
    replay.get_by_text("Order placed").wait_for(timeout=10_000)
    status.and_(page.locator("[data-state=ended]")).wait_for(timeout=10_000)
    assert "left the page" in status.inner_text()
    views = httpx.get(f"{base}/api/v1/sessions/{SID}/views", headers=AUTH).json()["uses"]
    assert "live" in {use["what"] for use in views}
