"""The recorder in Chromium, on a second origin, against a real `replaydesk serve`."""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
import time
from collections import Counter
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    IngestWatch,
    Service,
    Site,
    wait_for,
)
from tests.wire_vocabulary import assert_recorder_payloads_valid

pytestmark = pytest.mark.browser

META, FULL_SNAPSHOT, INCREMENTAL, CUSTOM, PLUGIN = 4, 2, 3, 5, 6
INPUT_SOURCE = 5
# What a visitor types; none of it may reach the service in any form.
TYPED = {
    "#email": "jane.doe.secret@example.org",
    "#password": "Tr0ub4dor-horse-staple",
    "#card": "4111 1111 1111 1111",
    "#notes": "leave it behind the blue door",
    "#editor": "dear diary xyzzy",
}
NEVER_STORED = [
    *TYPED.values(),
    "4111111111111111",
    "Tr0ub4dor",
    "blue door",
    "xyzzy",
    "csrf-token-not-for-recording",  # a hidden input's value
    "12,345.67",  # text inside an .rd-mask element
    "sk_live_abcdefghijklmnop",  # an Authorization header of the page's own request
    "tok_3Fh9xQ2",  # a token in a request URL
]


def plugin_payloads(events: list[dict[str, Any]], plugin: str) -> list[dict[str, Any]]:
    return [
        e["data"]["payload"]
        for e in events
        if e["type"] == PLUGIN and e["data"].get("plugin") == plugin
    ]


def custom_payloads(events: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    return [e["data"]["payload"] for e in events if e["type"] == CUSTOM and e["data"]["tag"] == tag]


def console_messages(events: list[dict[str, Any]]) -> list[str]:
    return [
        json.loads(p["payload"][0])
        for p in plugin_payloads(events, "rrweb/console@1")
        if p.get("payload")
    ]


def test_a_reload_is_a_step(page: Page, site: Site, service: Service) -> None:
    site.configure(site.user_id, flushIntervalMs=500)
    page.goto(site.url("shop.html"))
    page.click("#add")
    session_id = wait_for(lambda: session_id_of(page), what="a session")
    page.reload()
    page.click("#add")
    page.close()

    def steps() -> list[str] | None:
        texts = [s["text"] for s in service.report(str(session_id))["steps"]]
        return texts if texts.count("Clicked 'Add to basket'") == 2 else None

    texts = wait_for(steps, what="the click after the reload")
    assert texts == [
        "Opened /shop.html",
        "Clicked 'Add to basket'",
        "Reloaded /shop.html",
        "Clicked 'Add to basket'",
    ], texts


def session_id_of(page: Page) -> str | None:
    value = page.evaluate("ReplayDesk.getSessionId()")
    return value if isinstance(value, str) else None


def test_a_visit_on_another_origin_is_one_session_without_anything_typed(
    page: Page, site: Site, service: Service
) -> None:
    site.configure(site.user_id, flushIntervalMs=500, release="2026.12.1", environment="staging")
    page.goto(site.url("shop.html"))
    for selector, text in TYPED.items():
        page.click(selector)
        page.keyboard.type(text)
    page.select_option("#country", "nz")
    page.click("#add")
    page.click("#reveal")
    page.click("#pay")
    page.click("#stock")
    page.wait_for_timeout(300)  # the failing requests settle
    # Route changes as a single-page app makes them; the address ends as it was.
    page.evaluate(
        "history.pushState(null, '', '?step=review'); history.replaceState(null, '', 'shop.html')"
    )
    session_id = session_id_of(page)
    assert session_id

    page.click("#to-other")
    page.wait_for_url("**/other.html")
    page.click("#express")
    assert session_id_of(page) == session_id
    page.go_back()
    page.wait_for_url("**/shop.html")
    assert session_id_of(page) == session_id
    page.click("#add")
    page.close()  # the last batch leaves on pagehide

    def complete() -> list[dict[str, Any]] | None:
        events = service.events(session_id)
        labels = [p.get("label") for p in custom_payloads(events, "replaydesk/click")]
        return events if labels.count("Add to basket") == 2 else None

    events = wait_for(complete, what="the click made just before the page closed")
    # Every payload fits wire/vocabulary.json (as in every test): these kinds were among them.
    checked = assert_recorder_payloads_valid(events)
    assert {"console", "network", "navigation", "click"} <= set(checked), checked
    navigation = plugin_payloads(events, "replaydesk/navigation@1")
    assert [(n["kind"], n["url"].rsplit("/", 1)[1]) for n in navigation] == [
        ("push", "shop.html?step=review"),
        ("replace", "shop.html"),
    ]
    sessions = service.sessions_of(site.user_id)
    assert [s["session_id"] for s in sessions] == [session_id]
    # Each page load said where it was recorded: Chromium, this window, the init() release.
    pages = custom_payloads(events, "replaydesk/page")
    assert [p["navigation"] for p in pages] == ["navigate", "navigate", "back_forward"]
    environment = sessions[0]["environment"]
    assert environment["browser"] in ("Chrome", "HeadlessChrome")
    assert environment["os"] == "Linux" and environment["device"] == "desktop"
    assert environment["release"] == "2026.12.1" and environment["environment"] == "staging"
    assert environment["viewport"] == page.viewport_size

    # One full snapshot per page view: shop, delivery options, and shop again.
    metas = [e for e in events if e["type"] == META]
    assert [m["data"]["href"].rsplit("/", 1)[1] for m in metas] == [
        "shop.html",
        "other.html",
        "shop.html",
    ]
    assert sum(e["type"] == FULL_SNAPSHOT for e in events) == 3

    report = service.report(session_id)
    (declined,) = [e for e in report["console_errors"] if "Payment declined" in e["message"]]
    # The logged Error reads as its message, its frames one per line with line and column.
    assert declined["message"] == "Payment declined Error: HTTP 500"
    assert declined["stack"] and all(
        re.search(r"/shop\.html:\d+:\d+\)?$", frame) for frame in declined["stack"]
    ), declined["stack"]
    assert declined["page_url"].endswith("/shop.html")
    consoles = plugin_payloads(events, "rrweb/console@1")
    assert "End of stack" not in json.dumps(consoles)
    assert [c["trace"] for c in consoles if c["level"] == "info"] == [[], []]
    failed = {(r["method"], r["url"].split("?")[0], r["status"]) for r in report["failed_requests"]}
    assert ("POST", f"{site.origin}/api/pay", 500) in failed
    assert ("GET", "http://127.0.0.1:9/stock", 0) in failed
    network = plugin_payloads(events, "replaydesk/network@1")
    pay = next(n for n in network if "/api/pay" in n["url"])
    assert pay["kind"] == "fetch" and pay["duration"] >= 0 and pay["requestSize"] == 13
    # The initiator is the page's own call, never the recorder's wrapper.
    assert re.search(r"/shop\.html:\d+:\d+\)?$", pay["initiator"]), pay["initiator"]
    stock = next(n for n in network if n["url"].endswith("/stock"))
    assert re.search(r"/shop\.html:\d+:\d+\)?$", stock["initiator"]), stock["initiator"]
    assert "session_token=[secret]" in pay["url"]
    # Off by default: bodies and headers.
    assert not {"requestBody", "responseBody", "requestHeaders", "responseHeaders"} & set(pay)
    assert not [n for n in network if "/api/v1/ingest" in n["url"]]

    labels = {p["selector"]: p.get("label") for p in custom_payloads(events, "replaydesk/click")}
    assert labels["button#pay"] == "Pay now"
    assert labels["button#stock"] == "Check stock level"
    assert labels["input#email"] == "E-mail"
    assert labels["button#reveal"] == "**** *******"  # inside an .rd-mask element
    assert labels["input#password"] == "********"  # password fields are blocked
    typed = [
        e["data"]
        for e in events
        if e["type"] == INCREMENTAL and e["data"].get("source") == INPUT_SOURCE
    ]
    assert typed and {d["text"] for d in typed} <= {"******", ""}

    stored_json = json.dumps([events, report, sessions])
    for secret in NEVER_STORED:
        assert secret not in stored_json, secret
    for path, content in service.stored_bytes():
        for secret in NEVER_STORED:
            assert secret.encode() not in content, f"{secret!r} in {path}"


def chunk_seqs(service: Service, session_id: str) -> list[int]:
    database = f"file:{service.data_dir / 'replaydesk.db'}?mode=ro"
    with sqlite3.connect(database, uri=True) as db:
        rows = db.execute("SELECT seq FROM chunks WHERE session_id = ?", [session_id])
        return sorted(row[0] for row in rows)


def leave_and_come_back(page: Page, not_used: list[Any]) -> int:
    """Leave shop.html for other.html and come back to it from the back-forward cache; the
    number of trips it took. Chromium may evict a cached page for circumstances of the moment
    (its explanation's type is "Circumstantial"): then the trip is made again. Anything the page
    itself does that keeps it out of the cache fails the test at once."""
    for trip in range(1, 4):
        page.evaluate("window.keptInMemory = true")
        page.click("#to-other")
        page.wait_for_url("**/other.html")
        page.click("#express")
        page.wait_for_timeout(400)  # the other page numbers batches of the session meanwhile
        not_used.clear()
        page.go_back(wait_until="commit")
        try:
            page.wait_for_function("window.keptInMemory === true", timeout=5000)
            return trip
        except PlaywrightTimeoutError:
            explained = [e for event in not_used for e in event["notRestoredExplanations"]]
            if not explained or any(e["type"] != "Circumstantial" for e in explained):
                pytest.fail(f"the page kept itself out of the back-forward cache: {explained}")
            page.wait_for_function("document.readyState === 'complete'")
    pytest.fail(f"the page was evicted from the back-forward cache three times: {not_used}")


def test_a_page_back_from_the_back_forward_cache_continues_the_session(
    playwright: Playwright, site: Site, service: Service
) -> None:
    # Playwright turns the back-forward cache off by default; this test needs it on.
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    try:
        page = chromium.new_page()
        cdp = page.context.new_cdp_session(page)
        cdp.send("Page.enable")
        not_used: list[Any] = []
        cdp.on("Page.backForwardCacheNotUsed", lambda event: not_used.append(event))
        site.configure(site.user_id, flushIntervalMs=300)
        page.goto(site.url("shop.html"))
        session_id = session_id_of(page)
        page.click("#add")
        trips = leave_and_come_back(page, not_used)
        assert session_id_of(page) == session_id
        page.click("#pay")
        page.close()
    finally:
        chromium.close()

    def complete() -> list[dict[str, Any]] | None:
        events = service.events(str(session_id))
        labels = [p.get("label") for p in custom_payloads(events, "replaydesk/click")]
        return events if "Pay now" in labels else None

    events = wait_for(complete, what="the click after coming back")
    labels = [p.get("label") for p in custom_payloads(events, "replaydesk/click")]
    trip = ["Delivery options", "Choose express delivery"]
    assert labels == ["Add to basket", *trip * trips, "Pay now"]
    # Each trip: the other page's load, and this page back (restored: a new snapshot of it).
    assert sum(e["type"] == META for e in events) == 1 + 2 * trips
    assert sum(e["type"] == FULL_SNAPSHOT for e in events) == 1 + 2 * trips
    seqs = chunk_seqs(service, str(session_id))
    assert seqs == list(range(len(seqs)))


def test_network_bodies_and_headers_only_where_allowed(
    page: Page, site: Site, service: Service
) -> None:
    site.configure(
        site.user_id,
        flushIntervalMs=300,
        network={
            "bodyUrls": ["/api/pay"],
            "requestHeaders": ["X-Request-Id", "Authorization"],
            "responseHeaders": ["content-type", "set-cookie"],
        },
    )
    page.goto(site.url("shop.html"))
    page.click("#pay")
    session_id = session_id_of(page)
    assert session_id

    def pay_request() -> dict[str, Any] | None:
        network = plugin_payloads(service.events(session_id), "replaydesk/network@1")
        return next((n for n in network if "/api/pay" in n["url"]), None)

    pay = wait_for(pay_request, what="the payment request")
    assert pay["requestBody"] == '{"amount":89}'
    assert pay["responseBody"] == '{"error":"card_declined"}'
    assert pay["requestHeaders"] == {"x-request-id": "req-42"}  # never Authorization
    assert pay["responseHeaders"] == {"content-type": "application/json"}


def test_batches_outlive_a_failing_ingest_and_a_reload_and_arrive_once(
    page: Page, context: BrowserContext, site: Site, service: Service, ingest_watch: IngestWatch
) -> None:
    site.configure(site.user_id, flushIntervalMs=300, retryBaseMs=100, retryMaxMs=500)
    page.route("**/api/v1/ingest*", lambda route: route.abort("connectionrefused"))
    page.goto(site.url("shop.html"))
    session_id = session_id_of(page)

    def log_markers(numbers: range) -> None:
        for number in numbers:
            page.evaluate(f"console.log('marker-{number}')")
            page.wait_for_timeout(350)  # one batch each

    log_markers(range(3))
    page.reload()  # with every upload so far failed: they wait in IndexedDB
    assert session_id_of(page) == session_id
    log_markers(range(3, 6))
    page.unroute("**/api/v1/ingest*")
    context.set_offline(True)
    log_markers(range(6, 9))
    context.set_offline(False)

    def all_markers() -> Counter[str] | None:
        if not service.sessions_of(site.user_id):
            return None
        messages = Counter(console_messages(service.events(str(session_id))))
        return messages if all(messages[f"marker-{n}"] for n in range(9)) else None

    messages = wait_for(all_markers, timeout=20, what="every marker")
    assert all(messages[f"marker-{n}"] == 1 for n in range(9)), messages
    assert [s["session_id"] for s in service.sessions_of(site.user_id)] == [session_id]
    assert len(ingest_watch.requests) > len(ingest_watch.statuses)  # some did fail
    seqs = chunk_seqs(service, str(session_id))
    assert seqs == list(range(len(seqs)))  # numbered without gaps, each stored once


def test_a_rate_limited_batch_waits_as_long_as_retry_after_says(
    page: Page, site: Site, service: Service
) -> None:
    # Backoff alone would retry within 100 ms; the service asks for 2 s.
    site.configure(site.user_id, flushIntervalMs=300, retryBaseMs=50, retryMaxMs=100)
    attempts: list[float] = []

    def limit_once(route: Any) -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            # As the service answers: CORS lets the page read Retry-After.
            cors = {
                "Access-Control-Allow-Origin": site.origin,
                "Access-Control-Expose-Headers": "Retry-After",
            }
            route.fulfill(status=429, headers={"Retry-After": "2", **cors}, body="slow down")
        else:
            route.continue_()

    page.route("**/api/v1/ingest*", limit_once)
    page.goto(site.url("shop.html"))
    session_id = session_id_of(page)
    wait_for(lambda: len(attempts) >= 2, timeout=10, what="the retry", page=page)
    assert attempts[1] - attempts[0] >= 1.9, attempts
    wait_for(lambda: chunk_seqs(service, str(session_id)) or None, what="the batch")
    assert chunk_seqs(service, str(session_id))[0] == 0  # the limited batch, stored after all


STORED_BATCH_IDS = """() => new Promise((resolve) => {
  const open = indexedDB.open('replaydesk');
  open.onsuccess = () => {
    const keys = open.result.transaction('batches').objectStore('batches').getAllKeys();
    keys.onsuccess = () => { resolve(keys.result); open.result.close(); };
  };
})"""


@pytest.mark.parametrize("status", [400, 413])
def test_a_batch_refused_as_bad_or_too_large_is_dropped_and_the_next_ones_still_arrive(
    page: Page, site: Site, service: Service, status: int
) -> None:
    site.configure(site.user_id, flushIntervalMs=300, retryBaseMs=100, retryMaxMs=200)
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    refused: list[int] = []  # the seq of each attempt to send the doomed batch

    def refuse_the_doomed_batch(route: Any) -> None:
        body = route.request.post_data_buffer or b""
        text = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        if b"doomed-batch" not in text:
            route.continue_()
            return
        refused.append(json.loads(text)["seq"])
        # As the service answers a batch it cannot take: problem+json, readable through CORS.
        route.fulfill(
            status=status,
            headers={"Access-Control-Allow-Origin": site.origin},
            content_type="application/problem+json",
            body=json.dumps({"status": status, "detail": "no"}),
        )

    page.route("**/api/v1/ingest*", refuse_the_doomed_batch)
    page.goto(site.url("shop.html"))
    session_id = str(session_id_of(page))
    # The refused batch is one in the middle: the first (with the snapshot) is in already.
    wait_for(lambda: chunk_seqs(service, session_id) or None, what="the first batch", page=page)
    for text in ["doomed-batch", "after-1", "after-2"]:
        page.evaluate(f"console.log('{text}')")
        page.wait_for_timeout(500)  # one batch each

    def after_markers() -> list[str] | None:
        messages = console_messages(service.events(session_id))
        return messages if {"after-1", "after-2"} <= set(messages) else None

    messages = wait_for(after_markers, timeout=15, what="the batches after the refused one")
    assert "doomed-batch" not in messages
    assert len(refused) == 1, refused  # dropped on the first answer, never sent again
    (seq,) = refused
    assert seq not in chunk_seqs(service, session_id)
    dropped = [w for w in warnings if "dropped" in w]
    assert len(dropped) == 1, warnings
    # Which batch and why, and nothing of the visitor's.
    assert f"batch {seq} of session {session_id}" in dropped[0] and str(status) in dropped[0]
    assert site.user_id not in dropped[0]
    # Gone from the outbox too: a reload does not send it again.
    batch_id = f"{session_id}:{seq}"
    wait_for(lambda: batch_id not in page.evaluate(STORED_BATCH_IDS), what="the outbox to lose it")
    page.reload()
    page.wait_for_timeout(800)
    assert len(refused) == 1, refused


@pytest.mark.parametrize("bound", ["size", "age"])
def test_a_long_offline_spell_keeps_only_the_newest_batches_within_the_bounds(
    page: Page, context: BrowserContext, site: Site, service: Service, bound: str
) -> None:
    limits = {"maxQueueBytes": 2500} if bound == "size" else {"maxQueueAgeMs": 1500}
    site.configure(site.user_id, flushIntervalMs=250, retryBaseMs=100, retryMaxMs=200, **limits)
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text))
    page.route("**/api/v1/ingest*", lambda route: route.abort("connectionrefused"))
    page.goto(site.url("shop.html"))
    session_id = session_id_of(page)
    for number in range(10):
        # Random text: the queue counts compressed bytes.
        page.evaluate(f"console.log('spell-{number}-' + crypto.randomUUID().repeat(10))")
        page.wait_for_timeout(300)  # one batch each
    page.unroute("**/api/v1/ingest*")

    def last_marker() -> list[str] | None:
        found = [m for m in console_messages(service.events(str(session_id))) if "spell-9" in m]
        return found or None

    wait_for(last_marker, timeout=15, what="the newest batch")
    messages = console_messages(service.events(str(session_id)))
    kept = [m.split("-")[1] for m in messages if m.startswith("spell-")]
    assert "0" not in kept and "9" in kept, kept  # the oldest went, the newest stayed
    assert any("dropped" in w and "limit" in w for w in warnings), warnings


def test_what_the_page_does_before_dom_content_loaded_is_recorded(
    page: Page, site: Site, service: Service
) -> None:
    site.configure(site.user_id, flushIntervalMs=300)
    # Runs in the page's <head>, right after init: before DOMContentLoaded, like a page's
    # module or deferred scripts starting up.
    site.after_init = (
        "console.error('boot failed: config missing');"
        "fetch('/api/pay', {method: 'POST'});"
        "document.readyState === 'loading' || console.error('the test ran too late');"
        "throw new Error('early crash');"
    )
    page.goto(site.url("shop.html"))
    session_id = str(session_id_of(page))

    def recorded() -> list[dict[str, Any]] | None:
        events = service.events(session_id) if service.sessions_of(site.user_id) else []
        requests = plugin_payloads(events, "replaydesk/network@1")
        return events if any(r["url"].endswith("/api/pay") for r in requests) else None

    events = wait_for(recorded, timeout=10, what="the early request", page=page)
    messages = console_messages(events)
    assert "boot failed: config missing" in messages, messages
    assert any("early crash" in m for m in messages), messages
    assert "the test ran too late" not in messages
    [pay] = [r for r in plugin_payloads(events, "replaydesk/network@1") if "/api/pay" in r["url"]]
    assert pay["status"] == 500 and pay["method"] == "POST"
    # Each once, after the page's first full snapshot.
    assert messages.count("boot failed: config missing") == 1
    first_snapshot = next(i for i, e in enumerate(events) if e["type"] == FULL_SNAPSHOT)
    first_early = next(
        i for i, e in enumerate(events) if e["type"] == PLUGIN and "boot failed" in json.dumps(e)
    )
    assert first_snapshot < first_early


def test_a_page_that_draws_on_canvases_records_the_elements_but_not_their_pixels(
    page: Page, site: Site, service: Service
) -> None:
    # Canvas recording is left out of the bundle: drawing must neither break the recording
    # nor send the drawing.
    site.configure(site.user_id, flushIntervalMs=300)
    site.after_init = """
      addEventListener('DOMContentLoaded', function () {
        var flat = document.createElement('canvas'), gl = document.createElement('canvas');
        flat.id = 'chart'; gl.id = 'globe';
        document.body.append(flat, gl);
        setTimeout(function () {
          var c = flat.getContext('2d');
          c.fillStyle = '#c00'; c.fillRect(0, 0, 40, 40); c.fillText('secret chart', 5, 20);
          var g = gl.getContext('webgl');
          if (g) { g.clearColor(0, 0, 1, 1); g.clear(g.COLOR_BUFFER_BIT); }
          console.error('drawn');
        }, 200);
      });
    """
    page.goto(site.url("shop.html"))
    session_id = str(session_id_of(page))

    def recorded() -> list[dict[str, Any]] | None:
        events = service.events(session_id) if service.sessions_of(site.user_id) else []
        return events if "drawn" in console_messages(events) else None

    events = wait_for(recorded, timeout=10, what="the console error after drawing", page=page)
    stored = json.dumps(events, separators=(",", ":"))
    assert '"tagName":"canvas"' in stored
    assert '"id":"chart"' in stored or '"id":"globe"' in stored
    canvas_mutation = 9
    assert not [
        e for e in events if e["type"] == INCREMENTAL and e["data"]["source"] == canvas_mutation
    ]
    assert "fillRect" not in stored and "secret chart" not in stored
    assert "data:image" not in stored


def test_a_reload_continues_the_session_and_idleness_starts_a_new_one(
    page: Page, site: Site, service: Service
) -> None:
    user_id = site.user_id
    site.configure("", flushIntervalMs=300, idleTimeoutMs=1500)
    page.goto(site.url("shop.html"))
    first = session_id_of(page)
    page.click("#add")
    page.evaluate(f"ReplayDesk.identify({json.dumps(user_id)}, {{plan: 'pro'}})")
    page.reload()
    assert session_id_of(page) == first
    page.click("#add")

    def ended() -> bool:
        sessions = service.sessions_of(user_id)
        return any(s["session_id"] == first and not s["active"] for s in sessions)

    wait_for(ended, what="the idle session to end")
    page.click("#pay")  # the first interaction after the idle timeout
    second = session_id_of(page)
    assert second and second != first

    def both() -> list[str] | None:
        ids = [s["session_id"] for s in service.sessions_of(user_id)]
        return ids if len(ids) == 2 else None

    assert wait_for(both, what="the second session") == [second, first]
    first_events = service.events(str(first))
    assert sum(e["type"] == META for e in first_events) == 2  # two page loads
    assert sum(e["type"] == FULL_SNAPSHOT for e in first_events) == 2
    identify = custom_payloads(first_events, "replaydesk/identify")
    assert identify == [{"userId": user_id, "traits": {"plan": "pro"}}]
    assert assert_recorder_payloads_valid(first_events)["identify"] == 1
    second_events = wait_for(lambda: service.events(str(second)), what="the new session's events")
    assert [e["type"] for e in second_events[:2]] == [META, FULL_SNAPSHOT]


def test_a_refused_ingest_key_stops_the_recording(
    page: Page, site: Site, ingest_watch: IngestWatch
) -> None:
    site.configure(site.user_id, key="not-a-valid-key", flushIntervalMs=300)
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(site.url("shop.html"))
    wait_for(lambda: 401 in ingest_watch.statuses, what="the 401", page=page)
    for _ in range(4):
        page.click("#add")
        page.wait_for_timeout(200)
    assert len(ingest_watch.requests) == 1
    assert session_id_of(page) is None
    assert any("refused" in m and "stopped" in m for m in messages), messages
    page.reload()  # the tab remembers: not even one more attempt
    page.click("#add")
    page.wait_for_timeout(700)
    assert len(ingest_watch.requests) == 1


def test_an_erased_user_is_no_longer_recorded(
    page: Page, site: Site, service: Service, ingest_watch: IngestWatch
) -> None:
    site.configure(site.user_id, flushIntervalMs=300)
    page.goto(site.url("shop.html"))
    wait_for(lambda: service.sessions_of(site.user_id), what="the session")
    service.erase_user(site.user_id)
    page.click("#add")
    wait_for(lambda: 410 in ingest_watch.statuses, what="the 410", page=page)
    assert session_id_of(page) is None
    sent = len(ingest_watch.requests)
    page.click("#add")
    page.wait_for_timeout(700)
    assert len(ingest_watch.requests) == sent
    assert service.sessions_of(site.user_id) == []


@pytest.mark.parametrize("reason", ["opt-out", "global-privacy-control", "sample-rate-0"])
def test_nothing_is_sent(
    page: Page,
    context: BrowserContext,
    site: Site,
    service: Service,
    ingest_watch: IngestWatch,
    reason: str,
) -> None:
    if reason == "opt-out":
        site.configure(site.user_id, flushIntervalMs=300)
        site.after_init = "ReplayDesk.optOut()"
    elif reason == "global-privacy-control":
        site.configure(site.user_id, flushIntervalMs=300, respectGlobalPrivacyControl=True)
        context.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
        )
    else:
        site.configure(site.user_id, flushIntervalMs=300, sampleRate=0)
    page.goto(site.url("shop.html"))
    page.click("#email")
    page.keyboard.type("someone@example.org")
    page.wait_for_timeout(700)
    site.after_init = ""  # an opt-out is remembered for the site
    page.reload()
    page.click("#add")
    page.wait_for_timeout(700)
    assert session_id_of(page) is None
    assert ingest_watch.requests == []
    assert service.sessions_of(site.user_id) == []


def test_the_demo_records_a_broken_checkout(page: Page, service: Service) -> None:
    page.goto(service.base + "/demo")
    user_id = page.evaluate("demoUserId()")
    page.click(".products li:nth-child(2) button")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-shop.png"), full_page=True)
    page.click("a.button.primary")
    page.fill("input[name=email]", "demo.buyer@example.org")
    page.click("#to-payment")
    page.fill("input[name=card]", "5555 5555 5555 4444")
    page.click("#apply-coupon")
    page.click("#pay")
    page.wait_for_selector("#error:not([hidden])")
    page.screenshot(path=str(ARTIFACTS / "demo-checkout.png"), full_page=True)
    session_id = session_id_of(page)
    page.close()

    def evidence() -> dict[str, Any] | None:
        sessions = service.sessions_of(user_id)
        if not sessions:
            return None
        report = service.report(sessions[0]["session_id"])
        return report if report["console_errors"] and report["failed_requests"] else None

    report = wait_for(evidence, what="the demo's console error and failed request")
    assert report["session"]["session_id"] == session_id
    assert "Checkout failed" in report["console_errors"][0]["message"]
    assert report["failed_requests"][0]["url"].endswith("/demo/api/checkout")
    assert report["failed_requests"][0]["status"] == 500
    events = json.dumps(service.events(str(session_id)))
    assert "5555" not in events and "demo.buyer" not in events
    assert '"label": "Apply coupon"' in events


def linked_stylesheets(events: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The attributes of each full snapshot's `<link>`, in order."""
    found = []
    for event in events:
        if event["type"] != FULL_SNAPSHOT:
            continue
        stack = [event["data"]["node"]]
        while stack:
            node = stack.pop()
            stack.extend(node.get("childNodes", []))
            if node.get("tagName") == "link":
                found.append(node["attributes"])
    return found


def test_a_stylesheet_goes_out_once_per_session_and_again_when_it_changed(
    page: Page, site: Site, service: Service
) -> None:
    site.configure(site.user_id, flushIntervalMs=300)
    page.goto(site.url("styled.html"))
    session_id = wait_for(lambda: session_id_of(page), what="a session")

    def snapshots(count: int) -> list[dict[str, str]]:
        # Each page load's snapshot, before the next load (a page left before its first frame
        # takes none).
        def arrived() -> list[dict[str, str]] | None:
            links = linked_stylesheets(service.events(session_id))
            return links if len(links) == count else None

        return wait_for(arrived, what=f"page load {count}")

    snapshots(1)
    page.reload()
    snapshots(2)
    site.stylesheet = ".brand{color:rgb(0, 128, 0)}"
    page.reload()
    snapshots(3)
    page.reload()
    first, second, changed, after = snapshots(4)
    url = site.url("site.css")
    # The first page load carries the text and names it; the next names the URL alone.
    assert first["href"] == url and "102, 51, 153" in first["_cssText"]
    assert second == {"rel": "stylesheet", "href": url}
    # A new text goes out inlined, and from then on every time: the service keeps the first.
    assert changed["href"] == url and "0, 128, 0" in changed["_cssText"]
    assert after == changed
    # The service's copy of the URL is the text the first page load sent; the site, on
    # loopback and not named by the key, was never asked for it by the service.
    assets = service.get(f"/api/v1/sessions/{session_id}/assets?refresh=true").json()
    copy = next(a for a in assets["assets"] if a["url"] == url)
    assert copy["status"] == "stored"
    served = service.get(f"/replay-assets/{session_id}/{copy['hash']}")
    assert served.text == first["_cssText"]
