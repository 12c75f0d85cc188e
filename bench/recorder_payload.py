"""Upload volume of the demo scenario: gzip bytes per minute of recording, and what makes it up."""

from __future__ import annotations

import gzip
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page

from bench.figures import format_table, verdict
from bench.recorder_harness import chromium, replaydesk_serve

__all__ = ["TARGET_BYTES_PER_MINUTE", "run", "shop_visit"]

TARGET_BYTES_PER_MINUTE = 25 * 1024
QUICK_SECONDS = 30.0
FULL_SECONDS = 120.0
# People type at about five characters a second.
TYPING_DELAY_MS = 180
_EVENT_KINDS = {0: "dom-loaded", 1: "load", 2: "full snapshot", 4: "meta", 5: "custom"}
_SOURCES = {
    0: "mutation",
    1: "mouse move",
    2: "mouse interaction",
    3: "scroll",
    4: "viewport resize",
    5: "input",
}


def _kind(event: dict[str, Any]) -> str:
    if event["type"] == 3:
        return _SOURCES.get(event["data"].get("source"), "other incremental")
    if event["type"] == 6:
        return str(event["data"].get("plugin", "plugin"))
    return _EVENT_KINDS.get(event["type"], "other")


def _wander(page: Page, points: list[tuple[int, int]]) -> None:
    for x, y in points:
        page.mouse.move(x, y, steps=12)
        page.wait_for_timeout(150)


def shop_visit(page: Page, base: str, round_number: int) -> None:
    """One visit: browse, add to cart, check out with a card, hit the broken payment."""
    page.goto(base + "/demo")
    page.wait_for_selector(".products button")
    _wander(page, [(300, 420), (620, 470), (900, 440), (640, 300)])
    page.mouse.wheel(0, 250)
    page.wait_for_timeout(600)
    page.click(f".products li:nth-child({1 + round_number % 3}) button")
    page.wait_for_timeout(900)
    page.click("a.button.primary")
    page.wait_for_selector("input[name=email]")
    page.click("input[name=email]")
    page.keyboard.type(f"shopper{round_number}@example.org", delay=TYPING_DELAY_MS)
    _wander(page, [(500, 420), (330, 425)])
    page.click("#to-payment")
    page.click("input[name=card]")
    page.keyboard.type("4242 4242 4242 4242", delay=TYPING_DELAY_MS)
    page.click("input[name=expiry]")
    page.keyboard.type("12 / 29", delay=TYPING_DELAY_MS)
    page.click("input[name=cvc]")
    page.keyboard.type("123", delay=TYPING_DELAY_MS)
    page.click("#apply-coupon")
    page.wait_for_timeout(1500)
    page.click("#pay")
    page.wait_for_selector("#error:not([hidden])")
    _wander(page, [(400, 700), (600, 820), (700, 760)])
    page.wait_for_timeout(2000)


def _stored_batches(data_dir: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every batch the service stored once, with the size of its body gzipped as the recorder
    sends it (CompressionStream: zlib's default level). Read from the service's own storage,
    since batches that leave by beacon as a page closes are not visible to the browser driver.
    """
    database = f"file:{data_dir / 'replaydesk.db'}?mode=ro"
    with sqlite3.connect(database, uri=True) as db:
        rows = db.execute(
            "SELECT c.session_id, c.seq, s.user_id, c.blob_key FROM chunks c "
            "JOIN sessions s ON s.id = c.session_id ORDER BY c.session_id, c.seq"
        ).fetchall()
    for session_id, seq, user_id, blob_key in rows:
        events = json.loads(gzip.decompress((data_dir / "blobs" / blob_key).read_bytes()))
        batch = {"session_id": session_id, "seq": seq, "user_id": user_id, "events": events}
        body = json.dumps(batch, separators=(",", ":")).encode()
        yield len(gzip.compress(body, compresslevel=6)), batch


def _ingest_metrics(base: str) -> dict[str, float]:
    """The service's own ingest counters: accepted body bytes as received, and batch outcomes."""
    wanted = {
        "replaydesk_ingest_bytes_total": "wire_bytes",
        'replaydesk_ingest_batches_total{outcome="accepted"}': "accepted",
        'replaydesk_ingest_batches_total{outcome="duplicate"}': "duplicate",
    }
    found = dict.fromkeys(wanted.values(), 0.0)
    for line in httpx.get(base + "/metrics", timeout=10, trust_env=False).text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in wanted:
            found[wanted[name]] = float(value)
    return found


def run(quick: bool) -> None:
    """Drive the demo shop like a shopper for a while and weigh every batch it uploads once."""
    duration = QUICK_SECONDS if quick else FULL_SECONDS
    with replaydesk_serve() as served, chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        started = time.monotonic()
        rounds = 0
        while time.monotonic() - started < duration:
            shop_visit(page, served.base, rounds)
            rounds += 1
        elapsed = time.monotonic() - started
        page.close()  # the last batch goes out on pagehide
        context.close()
        time.sleep(1)
        batches = list(_stored_batches(served.data_dir))
        metrics = _ingest_metrics(served.base)

    sent = sum(size for size, _ in batches)
    raw = Counter[str]()
    count = Counter[str]()
    for _, batch in batches:
        for event in batch["events"]:
            kind = _kind(event)
            raw[kind] += len(json.dumps(event, separators=(",", ":")))
            count[kind] += 1
    per_minute = sent / elapsed * 60
    total_raw = sum(raw.values())
    print(
        f"Recorder payload: the demo scenario, {rounds} visit(s) of two page loads each, "
        f"{elapsed:.0f} s; {len(batches)} batches"
    )
    rows = [
        [kind, str(count[kind]), f"{size / 1024:.1f}", f"{100 * size / total_raw:.0f}%"]
        for kind, size in raw.most_common()
    ]
    print(format_table(["events", "count", "JSON KiB", "share"], rows))
    wire_per_minute = metrics["wire_bytes"] / elapsed * 60
    print(
        f"stored once: {sent / 1024:.1f} KiB as gzip ({total_raw / 1024:.1f} KiB of JSON), "
        f"{per_minute / 1024:.1f} KiB per minute"
    )
    print(
        f"as received: {metrics['wire_bytes'] / 1024:.1f} KiB in {metrics['accepted']:.0f} "
        f"accepted bodies ({wire_per_minute / 1024:.1f} KiB per minute; a batch sealed as a "
        f"page is left goes uncompressed when something happened just before), plus "
        f"{metrics['duplicate']:.0f} repeat(s) answered 'duplicate'"
    )
    print(
        f"target: <= {TARGET_BYTES_PER_MINUTE / 1024:.0f} KiB per minute gzipped -> "
        f"{verdict(per_minute <= TARGET_BYTES_PER_MINUTE)}"
    )
