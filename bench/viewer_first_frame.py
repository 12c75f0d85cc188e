"""Time to the first replay frame of a 60-minute session, beside rrweb-player fed the same events
from a static file, and the time a seek takes to show its frame."""

from __future__ import annotations

import asyncio
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, async_playwright

from bench.figures import format_table, percentile, ratio, verdict
from bench.ingest_server import BENCH_API_KEY, BENCH_INGEST_KEY
from bench.ingest_servers import replaydesk_arguments, sqlite_database
from bench.rrweb_batches import batch_bodies
from bench.server_process import ServerProcess
from bench.static_site import serve_folder
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS

__all__ = ["FIRST_FRAME_PROBE", "run_viewer_benchmark"]

# One batch every 5 s for an hour; ~12 KB of events each is a busy page (~8.6 MB in all).
FULL_BATCHES, QUICK_BATCHES = 720, 60
BATCH_JSON_BYTES = 12 * 1024
# Rounds alternate the two players, so a slow spell of the machine hits both alike.
ROUNDS, QUICK_ROUNDS = 9, 2
SEEKS, QUICK_SEEKS = 30, 8
TARGET_FIRST_FRAME_MS = 1000
TARGET_SEEK_MS = 300
PAGE_TIMEOUT_MS = 120_000
VIEWPORT = {"width": 1280, "height": 800}
PEER_DIR = Path(__file__).resolve().parent / "viewer_peer"
PEER_DIST = PEER_DIR / "node_modules" / "rrweb-player" / "dist"

# The same yardstick for both players, measured from outside either: the first animation frame
# in which the replay's iframe is shown and holds an element of the recorded page (rrweb keeps
# only head, body and its own style element in the frame before it has rebuilt the snapshot).
FIRST_FRAME_PROBE = """(() => {
  if (window.top !== window) return;
  const ownNodes = new Set(["HEAD", "BODY", "STYLE"]);
  const probe = () => {
    const frame = document.querySelector(".replayer-wrapper iframe");
    const doc = frame && frame.style.display !== "none" ? frame.contentDocument : null;
    const root = doc && doc.documentElement;
    if (root && [...root.querySelectorAll("*")].some((e) => !ownNodes.has(e.tagName))) {
      window.__replayFirstFrame = performance.now();
      return;
    }
    requestAnimationFrame(probe);
  };
  requestAnimationFrame(probe);
})();"""
_MARKS = """() => Object.fromEntries(
  performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]))"""
# A click on the timeline at `fraction` of its width, timed to the next animation frame: the
# frame that shows where the seek landed.
_SEEK_OURS = """async (fraction) => {
  const track = document.querySelector("[data-testid=timeline]");
  const box = track.getBoundingClientRect();
  const started = performance.now();
  const clientX = box.left + fraction * box.width;
  track.dispatchEvent(new MouseEvent("click", {bubbles: true, clientX}));
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  return performance.now() - started;
}"""
_SEEK_PEER = """async (fraction) => {
  const started = performance.now();
  const replayer = window.player.getReplayer();
  window.player.goto(fraction * replayer.getMetaData().totalTime, false);
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  return performance.now() - started;
}"""
_PEER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rrweb-player</title>
<link rel="stylesheet" href="style.css"></head>
<body><div id="player"></div>
<script src="rrweb-player.umd.cjs"></script>
<script>
  const Player = rrwebPlayer.default || rrwebPlayer;
  fetch("events.json").then((r) => r.json()).then((events) => {
    window.player = new Player({target: document.getElementById("player"),
      props: {events, autoPlay: false, width: 960, height: 540}});
    document.body.dataset.loaded = "true";
  });
</script></body></html>
"""


async def _ingest(base: str, batches: int) -> str:
    bodies = batch_bodies("viewer-hour", 1, batches, BATCH_JSON_BYTES)
    headers = {"X-ReplayDesk-Key": BENCH_INGEST_KEY, "Content-Encoding": "gzip"}
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=60) as client:
        for body in bodies:
            response = await client.post("/api/v1/ingest", content=body.wire, headers=headers)
            response.raise_for_status()
        sid = "viewer-hour-000000"
        summary = await client.get(
            f"/api/v1/sessions/{sid}", headers={"Authorization": f"Bearer {BENCH_API_KEY}"}
        )
        summary.raise_for_status()
    return sid


async def _events(base: str, sid: str) -> bytes:
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=120) as client:
        response = await client.get(
            f"/api/v1/sessions/{sid}/events", headers={"Authorization": f"Bearer {BENCH_API_KEY}"}
        )
        response.raise_for_status()
        return response.content


async def _mint(base: str, sid: str) -> str:
    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        response = await client.post(
            f"/api/v1/sessions/{sid}/links",
            json={},
            headers={"Authorization": f"Bearer {BENCH_API_KEY}"},
        )
        response.raise_for_status()
        token = str(response.json()["token"])
    # The bench server's public URL is not its loopback port; build the same link on it.
    return f"{base}/replay/{sid}#t={token}"


def peer_installed() -> bool:
    """rrweb-player in bench/viewer_peer (`npm ci` there when missing); False if it cannot be."""
    if PEER_DIST.is_dir():
        return True
    npm = shutil.which("npm")
    if npm is None:
        return False
    run = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=PEER_DIR, capture_output=True, check=False
    )
    return run.returncode == 0 and PEER_DIST.is_dir()


def _peer_folder(folder: Path, events: bytes) -> None:
    for name in ("rrweb-player.umd.cjs", "style.css"):
        shutil.copy(PEER_DIST / name, folder / name)
    (folder / "events.json").write_bytes(events)
    (folder / "index.html").write_text(_PEER_PAGE)


async def _wait_until(page: Page, expression: str) -> Any:
    """Poll an expression (the viewer's CSP forbids Playwright's own waiting by evaluation)."""
    deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        value = await page.evaluate(expression)
        if value:
            return value
        await page.wait_for_timeout(20)
    raise TimeoutError(f"{expression} stayed false")


async def _open(browser: Browser, url: str) -> tuple[Page, float, dict[str, float]]:
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    await context.add_init_script(FIRST_FRAME_PROBE)
    page = await context.new_page()
    await page.goto(url)
    first = float(await _wait_until(page, "window.__replayFirstFrame"))
    await _wait_until(page, "document.body.dataset.loaded === 'true'")
    marks: dict[str, float] = await page.evaluate(_MARKS)
    return page, first, marks


async def _seeks(page: Page, script: str, count: int) -> list[float]:
    rng = random.Random(22)
    times = []
    for _ in range(count):
        times.append(float(await page.evaluate(script, rng.random())))
        await page.wait_for_timeout(50)
    return times


def _row(name: str, values: list[float]) -> list[str]:
    if not values:
        return [name, "-", "-", "-"]
    return [
        name,
        f"{statistics.median(values):.0f} ms",
        f"{percentile(values, 0.95):.0f} ms",
        f"{max(values):.0f} ms",
    ]


async def run_viewer_benchmark(quick: bool) -> str:
    """Ingest an hour-long session, open it in Chromium beside rrweb-player, print the figures."""
    batches = QUICK_BATCHES if quick else FULL_BATCHES
    rounds = QUICK_ROUNDS if quick else ROUNDS
    seek_count = QUICK_SEEKS if quick else SEEKS
    with_peer = await asyncio.to_thread(peer_installed)
    ours: list[float] = []
    own_marks: list[float] = []
    all_events: list[float] = []
    peer: list[float] = []
    ours_seeks: list[float] = []
    peer_seeks: list[float] = []
    with tempfile.TemporaryDirectory(prefix="replaydesk-viewer-bench-") as tmp:
        workdir = Path(tmp)
        data_dir, peer_dir = workdir / "data", workdir / "peer"
        data_dir.mkdir()
        peer_dir.mkdir()
        async with sqlite_database(data_dir) as database_url:
            arguments = replaydesk_arguments("replaydesk", data_dir, database_url)
            async with ServerProcess(arguments, workdir / "server.log") as server:
                sid = await _ingest(server.base_url, batches)
                events = await _events(server.base_url, sid)
                if with_peer:
                    _peer_folder(peer_dir, events)
                with serve_folder(peer_dir) as peer_base:
                    async with async_playwright() as playwright:
                        browser = await playwright.chromium.launch(
                            executable_path=CHROMIUM, args=CHROMIUM_ARGS
                        )
                        for index in range(rounds):
                            last = index == rounds - 1
                            players = ["ours", "peer"] if with_peer else ["ours"]
                            if index % 2:
                                players.reverse()
                            for player in players:
                                if player == "ours":
                                    url = await _mint(server.base_url, sid)
                                    page, first, marks = await _open(browser, url)
                                    ours.append(first)
                                    own_marks.append(marks["replaydesk:first-frame"])
                                    all_events.append(marks["replaydesk:all-events"])
                                    if last:
                                        ours_seeks = await _seeks(page, _SEEK_OURS, seek_count)
                                else:
                                    page, first, _ = await _open(browser, f"{peer_base}/")
                                    peer.append(first)
                                    if last:
                                        peer_seeks = await _seeks(page, _SEEK_PEER, seek_count)
                                await page.context.close()
                        await browser.close()
    count = events.count(b'"timestamp"')
    ours_first = statistics.median(ours)
    peer_first = statistics.median(peer) if peer else float("nan")
    rows = [
        [
            "first frame, from navigation (median)",
            f"{ours_first:.0f} ms",
            f"{peer_first:.0f} ms" if peer else "NOT RUN",
        ],
        ["  each round", " ".join(f"{v:.0f}" for v in ours), " ".join(f"{v:.0f}" for v in peer)],
        ["  ReplayDesk / rrweb-player", f"{ratio(ours_first, peer_first):.2f}", ""],
        ["viewer's own first-frame mark (median)", f"{statistics.median(own_marks):.0f} ms", ""],
        ["all events read (median)", f"{statistics.median(all_events):.0f} ms", ""],
        [
            f"target first frame <= {TARGET_FIRST_FRAME_MS} ms and <= rrweb-player",
            verdict(ours_first <= TARGET_FIRST_FRAME_MS and (not peer or ours_first <= peer_first)),
            "",
        ],
    ]
    seek_rows = [
        _row("ReplayDesk (timeline click)", ours_seeks),
        _row("rrweb-player (goto)", peer_seeks),
    ]
    seek_met = bool(ours_seeks) and max(ours_seeks) <= TARGET_SEEK_MS
    minutes = batches * 5 / 60
    title = (
        f"Viewer: {minutes:.0f}-minute session, {count} events, {rounds} alternated rounds in "
        "Chromium over loopback; first frame = first animation frame whose replay iframe holds "
        "the recorded page"
    )
    seek_title = (
        f"Seeks to {len(ours_seeks)} random points, to the next animation frame "
        f"(target each <= {TARGET_SEEK_MS} ms: {verdict(seek_met)})"
    )
    return (
        title
        + "\n"
        + format_table(["figure", "ReplayDesk", "rrweb-player"], rows)
        + "\n\n"
        + seek_title
        + "\n"
        + format_table(["player", "p50", "p95", "max"], seek_rows)
    )


if __name__ == "__main__":
    import sys

    print(asyncio.run(run_viewer_benchmark(quick="--quick" in sys.argv)))
