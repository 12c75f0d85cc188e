"""The recorder while a support agent watches live, against a real `replaydesk serve`: batches
every second and a notice for the customer while someone watches, back to normal after."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import API_KEY, Service, Site, wait_for

pytestmark = pytest.mark.browser


class LiveWatcher:
    """A support agent's live view (`GET .../live`), read on a thread; when each batch came."""

    def __init__(self, service: Service, session_id: str) -> None:
        self.batches: list[float] = []
        self._stop = threading.Event()
        self._url = f"{service.base}/api/v1/sessions/{session_id}/live"
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with httpx.stream(
            "GET", self._url, headers=headers, timeout=httpx.Timeout(10, read=30)
        ) as response:
            for line in response.iter_lines():
                if line == "event: batch":
                    self.batches.append(time.monotonic())
                if self._stop.is_set():  # checked at least at every heartbeat
                    return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)


def session_id_of(page: Page) -> str | None:
    value = page.evaluate("ReplayDesk.getSessionId()")
    return value if isinstance(value, str) else None


def keep_busy(page: Page, seconds: float) -> None:
    """The customer moves the pointer: something to send every second."""
    deadline = time.monotonic() + seconds
    x = 10
    while time.monotonic() < deadline:
        x = 10 + (x + 37) % 400
        page.mouse.move(x, 200)
        page.wait_for_timeout(100)


@pytest.mark.parametrize("notice", ["notify", "off"])
def test_a_live_viewer_gets_a_batch_every_second_and_the_customer_is_told(
    page: Page, site: Site, service: Service, notice: str
) -> None:
    site.configure(site.user_id, flushIntervalMs=5000, liveNotice=notice)
    page.goto(site.url("shop.html"))
    page.click("#add")
    session_id = wait_for(lambda: session_id_of(page), what="a session")
    wait_for(lambda: service.sessions_of(site.user_id), what="the first batch stored")
    told = page.locator("#replaydesk-live-notice")
    assert told.count() == 0

    watcher = LiveWatcher(service, session_id)
    # The next batch's answer says someone watches (batches go every 5 s until then).
    keep_busy(page, 7)
    if notice == "notify":
        told.wait_for(timeout=10_000)
        assert told.get_attribute("role") == "status"
        assert told.inner_text() == "Support is viewing this page"
    before = len(watcher.batches)
    keep_busy(page, 5)
    arrived = len(watcher.batches) - before
    assert arrived >= 3, f"{arrived} batches in 5 s while watched"
    if notice == "off":
        assert told.count() == 0

    watcher.stop()
    # Nobody watches once the view's mark expires (15 s): the next answer says so. (The notice
    # stays until an answer says so: an idle page sends nothing, so it keeps it longer.)
    deadline = time.monotonic() + 40
    while told.count() and time.monotonic() < deadline:
        keep_busy(page, 1)
    assert told.count() == 0, "the notice stayed after the agent left"
