"""The replay page in Debian's Chromium: playback, panels, markers, bad links, hostile content."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Route, sync_playwright

from service.settings import Settings
from service.viewer.tokens import ViewerTokens
from service.web.app import create_app
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import API_KEY, INGEST, make_settings
from tests.processes import free_port
from tests.recordings import (
    BASE_TS,
    batch,
    click,
    console_error,
    meta,
    mutation,
    network,
    page_event,
)

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SID = "sess-browser-0001"
HOSTILE = "sess-hostile-001"
WINDOWED = "sess-windowed-01"


def element(node_id: int, tag: str, attrs: dict[str, str], *children: Any) -> dict[str, Any]:
    return {
        "type": 2,
        "id": node_id,
        "tagName": tag,
        "attributes": attrs,
        "childNodes": list(children),
    }


def text(node_id: int, content: str) -> dict[str, Any]:
    return {"type": 3, "id": node_id, "textContent": content}


def snapshot(ts: int, *body_children: Any) -> dict[str, Any]:
    html = element(
        2,
        "html",
        {},
        element(3, "head", {}, element(4, "style", {}, text(5, "button{font-size:32px}"))),
        element(6, "body", {}, *body_children),
    )
    return {
        "type": 2,
        "timestamp": ts,
        "data": {
            "node": {"type": 0, "id": 1, "childNodes": [html]},
            "initialOffset": {"left": 0, "top": 0},
        },
    }


def checkout_recording() -> list[dict[str, Any]]:
    body = [
        element(10, "h1", {}, text(11, "Checkout")),
        element(12, "button", {"id": "pay"}, text(13, "Place order")),
    ]
    events = [meta(BASE_TS, "https://shop.test/cart"), snapshot(BASE_TS + 5, *body)]
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
    events.append(
        page_event(
            BASE_TS + 6,
            url="https://shop.test/cart",
            userAgent=firefox,
            language="fr-FR",
            timeZone="Europe/Paris",
            viewport={"width": 1440, "height": 900},
            screen={"width": 2560, "height": 1440},
            pixelRatio=2,
            release="7.3.1",
        )
    )
    # Three quick clicks that change nothing: a rage click and three dead clicks.
    events += [click(BASE_TS + 1000 + i * 200, node_id=12) for i in range(3)]
    events += [
        # A click that starts the request that fails: an error click.
        click(BASE_TS + 3800, node_id=10),
        network(BASE_TS + 4000, "https://shop.test/api/pay", 500),
        console_error(BASE_TS + 5000, "TypeError: card declined"),
        mutation(BASE_TS + 6000),
        click(BASE_TS + 12_000, node_id=10),
    ]
    return events


def hostile_recording() -> list[dict[str, Any]]:
    body = [
        element(10, "script", {}, text(11, "window.parent.__pwned = 'script';")),
        element(12, "img", {"src": "x:", "onerror": "window.parent.__pwned = 'onerror'"}),
        element(14, "a", {"href": "javascript:window.parent.__pwned='href'"}, text(15, "link")),
        element(16, "p", {}, text(17, "Plain text")),
    ]
    return [
        meta(BASE_TS, "https://evil.test/"),
        snapshot(BASE_TS + 5, *body),
        console_error(
            BASE_TS + 1000, "<img src=x onerror=\"window.__pwned='console'\"><b>bold</b>"
        ),
        network(BASE_TS + 1500, "https://evil.test/<script>window.__pwned='url'</script>", 500),
        mutation(BASE_TS + 3000),
    ]


def paragraph_added(ts: int, node_id: int, content: str) -> dict[str, Any]:
    """A mutation that appends a paragraph to the body (rrweb adds each node on its own)."""
    paragraph = {"type": 2, "id": node_id, "tagName": "p", "attributes": {}, "childNodes": []}
    words = {"type": 3, "id": node_id + 1, "textContent": content}
    return {
        "type": 3,
        "timestamp": ts,
        "data": {
            "source": 0,
            "texts": [],
            "attributes": [],
            "removes": [],
            "adds": [
                {"parentId": 6, "nextId": None, "node": paragraph},
                {"parentId": node_id, "nextId": None, "node": words},
            ],
        },
    }


def windowed_recording() -> list[dict[str, Any]]:
    """Four minutes; the window asked for is 2:00 to 3:00."""
    body = [element(10, "h1", {}, text(11, "Checkout"))]
    return [
        meta(BASE_TS, "https://shop.test/cart"),
        snapshot(BASE_TS + 5, *body),
        paragraph_added(BASE_TS + 60_000, 50, "Coupon applied"),
        click(BASE_TS + 90_000, node_id=10),
        console_error(BASE_TS + 100_000, "TypeError: before the window"),
        console_error(BASE_TS + 150_000, "TypeError: inside the window"),
        paragraph_added(BASE_TS + 160_000, 60, "Order placed"),
        console_error(BASE_TS + 200_000, "TypeError: after the window"),
        click(BASE_TS + 240_000, node_id=10),
    ]


@pytest.fixture(scope="module")
def viewer_service(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[str, Settings]]:
    """A real HTTP server on loopback with two recorded sessions."""
    from tests.conftest import TEST_REDIS_URL

    data_dir = tmp_path_factory.mktemp("viewer")
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
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    for sid, events in (
        (SID, checkout_recording()),
        (HOSTILE, hostile_recording()),
        (WINDOWED, windowed_recording()),
    ):
        response = httpx.post(
            f"{base}/api/v1/ingest",
            content=msgspec.json.encode(batch(sid, 0, events)),
            headers=INGEST,
        )
        assert response.status_code == 202, response.text
    yield base, settings
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()
    assert dialogs == [], "the replay opened a dialog"


def minted_link(base: str, sid: str, **body: Any) -> str:
    response = httpx.post(
        f"{base}/api/v1/sessions/{sid}/links",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert response.status_code == 201, response.text
    url: str = response.json()["url"]
    return url


def clock_offset(page: Page) -> int:
    return int(page.get_by_test_id("clock").get_attribute("data-offset") or "-1")


def wait_for_offset(page: Page, accept: Any, timeout: float = 10.0) -> int:
    """Poll the player clock (the page's CSP forbids Playwright's eval-based waiting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        offset = clock_offset(page)
        if accept(offset):
            return offset
        page.wait_for_timeout(50)
    raise AssertionError(f"player clock stayed at {clock_offset(page)}")


def test_a_minted_link_plays_with_panels_and_markers(
    viewer_service: tuple[str, Settings], page: Page, caplog: pytest.LogCaptureFixture
) -> None:
    base, _ = viewer_service
    caplog.set_level(logging.INFO, logger="service.access")
    link = minted_link(base, SID)
    page.goto(link)
    page.wait_for_selector("body[data-loaded=true]")
    token = link.split("#t=")[1]
    access_log = "\n".join(r.getMessage() for r in caplog.records if r.name == "service.access")
    assert "GET /api/v1/sessions/{session_id}/events 200" in access_log
    assert token not in access_log and SID not in access_log
    assert "#t=" not in page.url  # the token left the address bar
    environment = page.get_by_test_id("environment")
    assert (
        environment.inner_text() == "Firefox 133 · Windows 10 · desktop · 1440×900 · release 7.3.1"
    )
    assert "Time zone Europe/Paris" in (environment.get_attribute("title") or "")

    frame = page.get_by_test_id("replay-frame").locator("iframe")
    assert frame.get_attribute("sandbox") == "allow-same-origin"
    replayed = page.frame_locator("[data-testid=replay-frame] iframe")
    assert replayed.get_by_text("Place order").is_visible()

    console = page.get_by_test_id("console-panel")
    assert "TypeError: card declined" in console.inner_text()
    page.get_by_role("tab", name="Network").click()
    network_panel = page.get_by_test_id("network-panel")
    assert "https://shop.test/api/pay" in network_panel.inner_text()
    assert network_panel.locator(".row.error").count() == 1
    page.get_by_role("tab", name="Steps").click()
    steps = page.get_by_test_id("steps-panel").inner_text()
    for step in ("Opened /cart", "POST /api/pay → 500", "Console error: TypeError: card declined"):
        assert step in steps

    assert clock_offset(page) == 0
    error_marker = page.locator(".marker-error")
    assert error_marker.count() == 1
    error_marker.click()
    # The error at 5 s, half a second of lead-in.
    assert wait_for_offset(page, lambda offset: offset > 0) == 4500
    page.locator(".marker-page").first.click()
    wait_for_offset(page, lambda offset: offset == 0)

    page.get_by_role("tab", name="Console").click()
    page.locator(".marker-error").click()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer.png"))


def test_the_replay_is_drawn_before_the_report_arrives(
    viewer_service: tuple[str, Settings], page: Page
) -> None:
    base, _ = viewer_service
    held: list[Route] = []
    page.route("**/report", lambda route: held.append(route))
    page.goto(minted_link(base, SID))
    page.wait_for_selector("[data-testid=replay-frame][data-drawn=true]")
    replayed = page.frame_locator("[data-testid=replay-frame] iframe")
    assert replayed.get_by_text("Place order").is_visible()
    assert "TypeError: card declined" in page.get_by_test_id("console-panel").inner_text()
    status = page.get_by_test_id("report-status")
    assert status.inner_text() == "Loading the session's details…"
    header_height = page.locator("header.top").bounding_box()
    assert held and page.locator("body[data-loaded=true]").count() == 0

    held[0].continue_()
    page.wait_for_selector("body[data-loaded=true]")
    assert page.get_by_test_id("user").inner_text() == "u42"
    assert page.get_by_test_id("environment").inner_text().startswith("Firefox 133")
    page.get_by_role("tab", name="Steps").click()
    assert "Opened /cart" in page.get_by_test_id("steps-panel").inner_text()
    # The full header took the pending one's place without moving the replay.
    assert page.locator("header.top").bounding_box() == header_height


def test_a_replay_without_its_report_still_plays_and_says_what_is_missing(
    viewer_service: tuple[str, Settings], page: Page
) -> None:
    base, _ = viewer_service
    page.route("**/report", lambda route: route.fulfill(status=500, body="{}"))
    page.goto(minted_link(base, SID))
    page.wait_for_selector("body[data-loaded=true]")
    status = page.get_by_test_id("report-status")
    assert status.inner_text() == "The session's details could not be loaded: reload to try again."
    replayed = page.frame_locator("[data-testid=replay-frame] iframe")
    assert replayed.get_by_text("Place order").is_visible()
    assert page.locator(".marker-error").count() == 1
    page.get_by_role("button", name="Play").click()
    wait_for_offset(page, lambda offset: offset > 0)


def test_the_timeline_shows_one_marker_per_struggle_of_the_report(
    viewer_service: tuple[str, Settings], page: Page
) -> None:
    base, _ = viewer_service
    report = httpx.get(
        f"{base}/api/v1/sessions/{SID}/report", headers={"Authorization": f"Bearer {API_KEY}"}
    ).json()
    assert (
        len(report["rage_clicks"]),
        len(report["dead_clicks"]),
        len(report["error_clicks"]),
    ) == (
        1,
        3,
        1,
    )
    page.goto(minted_link(base, SID))
    page.wait_for_selector("body[data-loaded=true]")
    titles = {
        "rage": "Rage click",
        "dead": "Dead click",
        "error-click": "Click followed by an error",
    }
    for kind, listed in (
        ("rage", report["rage_clicks"]),
        ("dead", report["dead_clicks"]),
        ("error-click", report["error_clicks"]),
    ):
        markers = page.locator(f".marker[data-kind={kind}]")
        assert markers.count() == len(listed), kind
        offsets = sorted(
            int(markers.nth(i).get_attribute("data-offset") or "-1") for i in range(len(listed))
        )
        assert offsets == sorted(item["offset_ms"] for item in listed), kind
        for i in range(len(listed)):
            marker = markers.nth(i)
            assert (marker.get_attribute("aria-label") or "").startswith(titles[kind])
            assert (marker.get_attribute("title") or "").startswith(titles[kind])
    # Each kind looks unlike the others and unlike an ordinary click.
    looks = {
        kind: page.locator(f".marker[data-kind={kind}]").first.evaluate(
            "m => { const s = getComputedStyle(m); return"
            " [s.backgroundColor, s.borderRadius, s.transform, s.clipPath, s.width].join('|') }"
        )
        for kind in ("click", "rage", "dead", "error-click")
    }
    assert len(set(looks.values())) == 4, looks
    page.locator(".marker-dead").first.click()
    assert wait_for_offset(page, lambda offset: offset > 0) == 500


def test_links_can_open_at_the_first_error(
    viewer_service: tuple[str, Settings], page: Page
) -> None:
    base, _ = viewer_service
    page.goto(minted_link(base, SID, open_at="first-error"))
    page.wait_for_selector("body[data-loaded=true]")
    # The failed request (4 s) is the first trouble; the player opens just before it.
    assert wait_for_offset(page, lambda offset: offset > 0) == 3500


def test_expired_tampered_and_foreign_links_show_a_plain_page(
    viewer_service: tuple[str, Settings], page: Page
) -> None:
    base, settings = viewer_service
    tokens = ViewerTokens(settings.secret_key, base)
    expired = tokens.mint(SID, -120).url
    foreign = tokens.mint(HOSTILE, 600).token
    for url in (
        expired,
        f"{base}/replay/{SID}#t={foreign}",
        f"{base}/replay/{SID}#t=not-a-token",
        f"{base}/replay/sess-nope-00001#t={foreign}",
        f"{base}/replay/{SID}",
    ):
        page.goto(url)
        message = page.get_by_test_id("link-refused")
        message.wait_for()
        assert message.inner_text().endswith(
            "This replay link is invalid or has expired. Ask for a new link."
        )
        assert "Traceback" not in page.content()


def test_hostile_recordings_play_without_running_anything(
    viewer_service: tuple[str, Settings], page: Page
) -> None:
    base, _ = viewer_service
    page.goto(minted_link(base, HOSTILE))
    page.wait_for_selector("body[data-loaded=true]")
    replayed = page.frame_locator("[data-testid=replay-frame] iframe")
    assert replayed.get_by_text("Plain text").is_visible()
    page.get_by_role("button", name="Play").click()
    wait_for_offset(page, lambda offset: offset >= 2900)
    console = page.get_by_test_id("console-panel")
    assert "<img src=x onerror=\"window.__pwned='console'\"><b>bold</b>" in console.inner_text()
    assert console.locator("img, b").count() == 0
    page.get_by_role("tab", name="Network").click()
    assert "<script>" in page.get_by_test_id("network-panel").inner_text()
    assert page.evaluate("window.__pwned") is None
    frame = page.frames[1]
    assert frame.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("script:not([src])").count() == 0


def test_a_windowed_link_opens_at_its_start_with_the_page_rebuilt_and_plays_it(
    viewer_service: tuple[str, Settings], page: Page
) -> None:
    base, _ = viewer_service
    window = {"from_ms": 120_000, "to_ms": 180_000}
    page.goto(minted_link(base, WINDOWED, window=window))
    page.wait_for_selector("body[data-loaded=true]")
    assert page.get_by_test_id("window-note").inner_text() == (
        "Showing 02:00\N{EN DASH}03:00 of a 4-minute session"
    )
    # The page as it was at 2:00: the paragraph added at 1:00 is there, the one of 2:40 not yet.
    replayed = page.frame_locator("[data-testid=replay-frame] iframe")
    replayed.get_by_text("Coupon applied").wait_for()
    assert replayed.get_by_text("Order placed").count() == 0
    # The timeline is the window's; the clock tells the session's time.
    assert wait_for_offset(page, lambda offset: offset >= 0) <= 1
    assert page.get_by_test_id("clock").inner_text().startswith("02:00 / 02:40")
    console = page.get_by_test_id("console-panel").inner_text()
    assert "inside the window" in console
    assert "before the window" not in console and "after the window" not in console
    page.get_by_role("tab", name="Steps").click()
    steps = page.get_by_test_id("steps-panel").inner_text()
    assert "02:30" in steps and "before the window" not in steps
    errors = page.locator(".marker-error")  # the one error inside, 30 s into the window
    assert errors.count() == 1 and errors.first.get_attribute("data-offset") == "30000"

    page.get_by_label("Speed").select_option("8")
    page.get_by_role("button", name="Play").click()
    wait_for_offset(page, lambda offset: offset >= 40_000, timeout=20)
    replayed.get_by_text("Order placed").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer-window.png"))

    # A windowed link that opens at the first error opens at the first error inside it.
    page.goto(minted_link(base, WINDOWED, window=window, open_at="first-error"))
    page.wait_for_selector("body[data-loaded=true]")
    assert wait_for_offset(page, lambda offset: offset > 1) == 29_500
