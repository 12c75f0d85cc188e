"""The replay page as a workbench in Debian's Chromium: sessions of one event or none, panels on
the playhead, console filters, request details and cURL, 20,000-entry panels, shortcuts, links
to a moment, and the layout from 800 to 1024 px wide."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, sync_playwright

from service.settings import Settings
from service.web.app import create_app
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_viewer_page import (
    checkout_recording,
    clock_offset,
    minted_link,
    snapshot,
    wait_for_offset,
)
from tests.conftest import INGEST, make_settings
from tests.processes import free_port
from tests.recordings import BASE_TS, batch, meta

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WORK = "sess-workbench-01"
ONE = "sess-one-event-01"
EMPTY = "sess-no-events-01"
BIG = "sess-twenty-k-001"
BIG_ENTRIES = 20_000
# Of the big session's entries, every ERROR_EVERY-th console line is an error.
ERROR_EVERY = 50
PAY_URL = "https://shop.test/api/pay?session_token=tok_3Fh9xQ2&id=7"


def detailed_request(ts: int) -> dict[str, Any]:
    """The checkout's failed payment as a recorder allowed to keep headers and bodies sends it."""
    payload = {
        "kind": "fetch",
        "method": "POST",
        "url": PAY_URL,
        "status": 500,
        "duration": 150.3,
        "requestSize": 38,
        "responseSize": 25,
        "requestHeaders": {
            "content-type": "application/json",
            "x-request-id": "req-42",
            "x-session-id": "sid-visible-to-the-service",
            "authorization": "Bearer sk_live_abcdefghijklmnop",
        },
        "responseHeaders": {"content-type": "application/json", "set-cookie": "sid=1"},
        "requestBody": '{"amount":89,"password":"hunter2"}',
        "responseBody": '{"error":"card_declined"}',
        "initiator": "pay (https://shop.test/app.js:10:5)",
    }
    data = {"plugin": "replaydesk/network@1", "payload": payload}
    return {"type": 6, "timestamp": ts, "data": data}


def workbench_recording() -> list[dict[str, Any]]:
    """The checkout of test_viewer_page with a request recorded in full, and console chatter."""
    events = [
        detailed_request(BASE_TS + 4000)
        if e["type"] == 6 and e["data"]["plugin"].endswith("network@1")
        else e
        for e in checkout_recording()
    ]
    events += [
        console(BASE_TS + 2000 + i * 100, level, f"{level} line {i}")
        for i, level in enumerate(("log", "info", "warn", "debug"))
    ]
    return sorted(events, key=lambda e: e["timestamp"])


def console(ts: int, level: str, message: str) -> dict[str, Any]:
    payload = {"level": level, "payload": [msgspec.json.encode(message).decode()], "trace": []}
    return {"type": 6, "timestamp": ts, "data": {"plugin": "rrweb/console@1", "payload": payload}}


def network(ts: int, index: int) -> dict[str, Any]:
    payload = {
        "kind": "xhr",
        "method": "GET",
        "url": f"https://shop.test/api/items/{index}",
        "status": 500 if index % 100 == 99 else 200,
        "duration": 12,
    }
    return {
        "type": 6,
        "timestamp": ts,
        "data": {"plugin": "replaydesk/network@1", "payload": payload},
    }


def big_recording() -> list[dict[str, Any]]:
    """BIG_ENTRIES console lines and as many requests, 5 ms apart."""
    events = [meta(BASE_TS, "https://shop.test/list"), snapshot(BASE_TS + 1)]
    levels = ("log", "info", "warn", "debug")
    for i in range(BIG_ENTRIES):
        ts = BASE_TS + 10 + i * 5
        level = "error" if i % ERROR_EVERY == ERROR_EVERY - 1 else levels[i % 4]
        events += [console(ts, level, f"line {i} {level}"), network(ts + 2, i)]
    return events


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    """A real HTTP server on loopback with the sessions these tests open."""
    from tests.conftest import TEST_REDIS_URL

    data_dir = tmp_path_factory.mktemp("workbench")
    database = data_dir / "replaydesk.db"
    database.write_bytes(sqlite_template.read_bytes())
    port = free_port()
    settings: Settings = make_settings(
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
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    big = big_recording()
    batches = [
        (WORK, workbench_recording()),
        # README's "Try it": one page view and nothing else.
        (ONE, [{"type": 4, "timestamp": BASE_TS, "data": {"href": "https://shop.example/cart"}}]),
        (EMPTY, []),
        *((BIG, big[i : i + 5000]) for i in range(0, len(big), 5000)),
    ]
    seqs: dict[str, int] = {}
    for sid, events in batches:
        seq = seqs[sid] = seqs.get(sid, -1) + 1
        response = httpx.post(
            f"{base}/api/v1/ingest",
            content=msgspec.json.encode(batch(sid, seq, events)),
            headers=INGEST,
            timeout=60,
        )
        assert response.status_code == 202, response.text
    yield base
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser, service_url: str) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=service_url)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def open_replay(page: Page, base: str, sid: str, query: str = "") -> str:
    """Open a fresh link to `sid` and wait until every event is in; the link's token."""
    link = minted_link(base, sid)
    path, token = link.split("#t=")
    page.goto(f"{path}{query}#t={token}")
    page.wait_for_selector("body[data-loaded=true]", timeout=60_000)
    return token


def rows(page: Page, panel: str) -> Locator:
    return page.get_by_test_id(f"{panel}-panel").locator(".row")


def classes(row: Locator) -> set[str]:
    return set((row.get_attribute("class") or "").split())


def clipboard(page: Page) -> str:
    text: str = page.evaluate("navigator.clipboard.readText()")
    return text


def test_a_session_of_one_event_opens_and_shows_what_it_has(service_url: str, page: Page) -> None:
    open_replay(page, service_url, ONE)
    assert page.get_by_test_id("link-refused").count() == 0
    assert "No screen was recorded" in page.get_by_test_id("stage-notice").inner_text()
    assert page.get_by_test_id("clock").inner_text() == "00:00 / 00:00"
    assert page.locator(".marker-page").count() == 1
    page.get_by_role("tab", name="Steps").click()
    step = rows(page, "steps").first
    assert "Opened /cart" in step.inner_text()
    assert "current" in classes(step)


def test_an_empty_session_says_so_plainly(service_url: str, page: Page) -> None:
    open_replay(page, service_url, EMPTY)
    notice = page.get_by_test_id("stage-notice")
    assert notice.inner_text() == "Nothing was recorded in this session: it has no events."
    assert page.get_by_test_id("play").is_disabled()
    assert page.get_by_test_id("copy-link").is_disabled()
    assert page.get_by_test_id("link-refused").count() == 0


def test_an_empty_session_keeps_its_buttons_off_when_the_report_comes_last(
    service_url: str, page: Page
) -> None:
    held: list[Route] = []
    page.route("**/report", lambda route: held.append(route))
    link = minted_link(service_url, EMPTY)
    page.goto(link)
    page.wait_for_selector("[data-testid=stage-notice]:not([hidden])")
    assert held and page.locator("body[data-loaded=true]").count() == 0
    held[0].continue_()
    page.wait_for_selector("body[data-loaded=true]")
    assert page.get_by_test_id("user").count() == 1  # the report's header is in
    assert page.get_by_test_id("copy-link").is_disabled()


def test_panels_follow_the_playhead_from_the_first_frame_and_after_seeks(
    service_url: str, page: Page
) -> None:
    open_replay(page, service_url, WORK)
    # Paused at the start: the page view is the current step, every console line is to come.
    page.get_by_role("tab", name="Steps").click()
    assert "current" in classes(rows(page, "steps").first)
    page.get_by_role("tab", name="Console").click()
    console_rows = rows(page, "console")
    assert console_rows.count() == 5
    assert all("future" in classes(console_rows.nth(i)) for i in range(5))

    # A seek while paused (the timeline's error marker, 4.5 s): the lines before it are past.
    page.locator(".marker-error").click()
    wait_for_offset(page, lambda offset: offset == 4500)
    warn = console_rows.filter(has_text="warn line 2")
    debug = console_rows.filter(has_text="debug line 3")
    assert "future" not in classes(warn)
    assert "current" in classes(debug) and "future" not in classes(debug)
    assert "future" in classes(console_rows.filter(has_text="TypeError"))

    # A row's time seeks to it exactly; that row is then the current one.
    console_rows.filter(has_text="TypeError").locator(".time").click()
    wait_for_offset(page, lambda offset: offset == 5000)
    assert "current" in classes(console_rows.filter(has_text="TypeError"))
    page.get_by_role("tab", name="Network").click()
    assert "current" in classes(rows(page, "network").first)

    # While playing, the panels keep up. (On a tab, arrows move between tabs: the timeline
    # takes them as a slider does.)
    page.get_by_test_id("timeline").press("ArrowLeft")
    wait_for_offset(page, lambda offset: offset == 0)
    page.get_by_role("button", name="Play").click()
    wait_for_offset(page, lambda offset: offset >= 4100, timeout=15)
    assert "future" not in classes(rows(page, "network").first)


def test_opening_at_the_first_error_marks_the_panels_there(service_url: str, page: Page) -> None:
    open_replay(page, service_url, WORK, "?at=first-error")
    assert wait_for_offset(page, lambda offset: offset > 0) == 3500
    page.get_by_role("tab", name="Console").click()
    assert "current" in classes(rows(page, "console").filter(has_text="debug line 3"))
    page.get_by_role("tab", name="Network").click()
    assert "future" in classes(rows(page, "network").first)


def test_the_console_filters_by_level_and_text_with_mouse_and_keyboard(
    service_url: str, page: Page
) -> None:
    open_replay(page, service_url, WORK)
    console_rows = rows(page, "console")
    errors = page.locator(".level-filter[data-level=error]")
    assert errors.inner_text() == "Errors 1"
    errors.click()
    assert errors.get_attribute("aria-pressed") == "true"
    assert console_rows.count() == 1 and "TypeError: card declined" in console_rows.inner_text()
    errors.click()
    assert console_rows.count() == 5

    # By keyboard: "/" goes to the search field, where shortcut keys are just text.
    page.keyboard.press("/")
    search = page.get_by_test_id("console-search")
    assert search.evaluate("el => el === document.activeElement")
    page.keyboard.type("line 1 e")
    assert search.input_value() == "line 1 e"
    assert console_rows.count() == 0
    assert page.get_by_test_id("play").inner_text() == "Play" and clock_offset(page) == 0
    search.fill("")
    page.keyboard.type("info")
    assert console_rows.count() == 1 and "info line 1" in console_rows.inner_text()
    page.keyboard.press("Escape")
    search.fill("")
    # Tab back to the level filters; Enter presses one.
    page.keyboard.press("Shift+Tab")
    focused = page.evaluate("document.activeElement.dataset.level")
    assert focused == "debug"
    page.keyboard.press("Enter")
    assert console_rows.count() == 1 and "debug line 3" in console_rows.inner_text()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"


def test_a_failed_requests_details_by_mouse_and_keyboard(service_url: str, page: Page) -> None:
    open_replay(page, service_url, WORK)
    page.get_by_role("tab", name="Network").click()
    request = rows(page, "network").first
    assert "error" in classes(request)
    request.click()
    detail = page.get_by_test_id("network-detail")
    text = detail.inner_text()
    assert "POST 500" in text
    assert "session_token=[secret]" in text  # scrubbed at ingest
    for shown in (
        "x-request-id",
        "req-42",
        "card_declined",
        '"amount": 89',
        "150.3 ms",
        "38 B",
        "25 B",
        "pay (https://shop.test/app.js:10:5)",
        "fetch",
    ):
        assert shown in text, shown
    assert "sk_live" not in text and "authorization" not in text.lower()
    assert "set-cookie" not in text.lower()
    detail.get_by_role("button", name="Close the request details").click()
    assert detail.is_hidden()

    # The same by keyboard: the list takes focus, arrows select, Enter moves into the details.
    page.get_by_test_id("failed-only").check()
    listbox = page.get_by_test_id("network-panel")
    listbox.focus()
    page.keyboard.press("ArrowDown")
    assert detail.is_visible() and "POST 500" in detail.inner_text()
    assert listbox.get_attribute("aria-activedescendant")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.dataset.testid") == "copy-curl"
    page.keyboard.press("Enter")
    page.get_by_test_id("toast").filter(has_text="cURL command copied").wait_for()
    command = clipboard(page)
    assert command.startswith("curl 'https://shop.test/api/pay?session_token=REDACTED&id=7'")
    assert "-H 'x-request-id: req-42'" in command
    assert "-H 'content-type: application/json'" in command
    assert '"password":"REDACTED"' in command and "hunter2" not in command
    for secret in (
        "sk_live",
        "authorization",
        "Authorization",
        "cookie",
        "x-session-id",
        "tok_3Fh9",
    ):
        assert secret not in command, secret


def test_twenty_thousand_entries_scroll_without_rendering_every_row(
    service_url: str, page: Page
) -> None:
    started = time.monotonic()
    open_replay(page, service_url, BIG)
    loaded = time.monotonic() - started
    assert page.get_by_role("tab", name="Console").inner_text().endswith(str(BIG_ENTRIES))
    for panel in ("console", "network"):
        page.get_by_role("tab", name=panel.capitalize()).click()
        listbox = page.get_by_test_id(f"{panel}-panel")
        assert 0 < rows(page, panel).count() < 100
        # To the bottom: the last entry is rendered, and still only a screenful of rows.
        listbox.evaluate("el => { el.scrollTop = el.scrollHeight; }")
        last = f"line {BIG_ENTRIES - 1} " if panel == "console" else f"/items/{BIG_ENTRIES - 1}"
        rows(page, panel).filter(has_text=last).wait_for(timeout=5000)
        assert rows(page, panel).count() < 100
        listbox.evaluate("el => { el.scrollTop = el.scrollHeight / 2; }")
        rows(page, panel).filter(has_text=f"{BIG_ENTRIES // 2 - 1}").first.wait_for(timeout=5000)
    # Filtering 20,000 lines answers at once.
    page.get_by_role("tab", name="Console").click()
    before = time.monotonic()
    page.locator(".level-filter[data-level=error]").click()
    assert rows(page, "console").first.inner_text().endswith("error")
    filtered = time.monotonic() - before
    errors = BIG_ENTRIES // ERROR_EVERY
    assert page.locator(".level-filter[data-level=error]").inner_text() == f"Errors {errors}"
    # A timeline of hundreds of errors stays readable: nearby markers are drawn as one.
    assert page.locator(".marker-error").count() <= 400
    print(f"\n20,000-entry session: loaded in {loaded:.1f} s, error filter in {filtered:.2f} s")


def test_keyboard_shortcuts_and_their_overlay(service_url: str, page: Page) -> None:
    open_replay(page, service_url, WORK)
    body = page.locator("body")
    body.press("?")
    overlay = page.get_by_test_id("shortcuts")
    assert overlay.is_visible() and "Next or previous error" in overlay.inner_text()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Close"
    page.keyboard.press("Escape")
    assert overlay.is_hidden()

    page.keyboard.press("ArrowRight")
    assert wait_for_offset(page, lambda offset: offset > 0) == 5000
    page.keyboard.press("ArrowLeft")
    wait_for_offset(page, lambda offset: offset == 0)
    # One recorded event at a time: the page event at 6 ms, then the first click at 1 s.
    page.keyboard.press(".")
    assert wait_for_offset(page, lambda offset: offset > 0) == 5
    page.keyboard.press(".")
    page.keyboard.press(".")
    assert wait_for_offset(page, lambda offset: offset > 6) == 1000
    page.keyboard.press(",")
    assert wait_for_offset(page, lambda offset: offset < 1000) == 6
    # e: the failed request (4 s), then the console error (5 s), each with its lead-in.
    page.keyboard.press("e")
    assert wait_for_offset(page, lambda offset: offset > 6) == 3500
    page.keyboard.press("e")
    assert wait_for_offset(page, lambda offset: offset > 3500) == 4500
    page.keyboard.press("Shift+E")
    assert wait_for_offset(page, lambda offset: offset < 4500) == 3500
    page.keyboard.press("3")
    assert page.locator("select.speed").input_value() == "4"
    page.keyboard.press("1")
    page.keyboard.press(" ")
    assert page.get_by_test_id("play").inner_text() == "Pause"
    wait_for_offset(page, lambda offset: offset > 3700)
    page.keyboard.press(" ")
    assert page.get_by_test_id("play").inner_text() == "Play"
    # After a click on Play, Space pauses (once: the button does not take it too).
    page.get_by_test_id("play").click()
    assert page.get_by_test_id("play").inner_text() == "Pause"
    page.keyboard.press(" ")
    page.wait_for_timeout(100)
    assert page.get_by_test_id("play").inner_text() == "Play"

    # The header's signals go from one occurrence to the next.
    dead = page.get_by_test_id("signal-dead")
    assert dead.get_attribute("data-count") == "3"
    for expected in (500, 700, 900, 500):
        dead.click()
        wait_for_offset(page, lambda offset, expected=expected: offset == expected)


def test_a_link_at_this_moment_opens_there(
    service_url: str, page: Page, context: BrowserContext
) -> None:
    token = open_replay(page, service_url, WORK)
    page.locator(".marker-error").click()
    wait_for_offset(page, lambda offset: offset == 4500)
    page.get_by_test_id("copy-link").click()
    page.get_by_test_id("toast").filter(has_text="opens at 00:04").wait_for()
    link = clipboard(page)
    assert link == f"{service_url}/replay/{WORK}?at=4500#t={token}"
    other = context.new_page()
    other.goto(link)
    other.wait_for_selector("body[data-loaded=true]")
    assert wait_for_offset(other, lambda offset: offset > 0) == 4500
    assert "#t=" not in other.url


@pytest.mark.parametrize(
    ("width", "height", "beside"), [(1024, 768, True), (800, 900, False), (800, 1000, False)]
)
def test_replay_and_panels_fit_from_800_to_1024_pixels(
    service_url: str, browser: Browser, width: int, height: int, beside: bool
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        open_replay(page, service_url, WORK)
        page.get_by_role("tab", name="Network").click()
        rows(page, "network").first.click()
        replay = page.get_by_test_id("replay-frame").bounding_box()
        controls = page.get_by_test_id("timeline").bounding_box()
        panels = page.locator(".panels").bounding_box()
        header = page.locator("header.top").bounding_box()
        assert replay and controls and panels and header
        for box in (replay, controls, panels):
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box
            assert box["y"] >= 0 and box["y"] + box["height"] <= height + 0.5, box
        assert replay["width"] >= 300 and replay["height"] >= 180, replay
        assert panels["width"] >= 320 and panels["height"] >= 250, panels
        if beside:
            assert panels["x"] >= controls["x"] + controls["width"]
            # The header keeps to its two rows.
            assert header["height"] <= 80, header
        else:
            assert panels["y"] >= controls["y"] + controls["height"]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"viewer-{width}x{height}.png"))
    finally:
        context.close()


def test_the_environment_and_signals_in_the_header(service_url: str, page: Page) -> None:
    open_replay(page, service_url, WORK)
    assert page.get_by_test_id("user").inner_text() == "u42"
    assert page.get_by_test_id("duration").inner_text() == "00:12"
    environment = page.get_by_test_id("environment")
    assert environment.inner_text().startswith("Firefox 133 · Windows 10 · desktop · 1440×900")
    counts = {
        kind: page.get_by_test_id(f"signal-{kind}").get_attribute("data-count")
        for kind in ("error", "request", "rage", "dead", "error-click")
    }
    assert counts == {"error": "1", "request": "1", "rage": "1", "dead": "3", "error-click": "1"}
    page.get_by_test_id("signal-request").click()
    assert wait_for_offset(page, lambda offset: offset > 0) == 3500
    assert re.search(
        r"go to the next one", page.get_by_test_id("signal-rage").get_attribute("aria-label") or ""
    )
