"""Time to the first replay frame of a 60-minute session, against loading it whole first."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from pathlib import Path

import httpx
from playwright.async_api import Page, async_playwright

from bench.figures import format_table, ratio, verdict
from bench.ingest_server import BENCH_API_KEY, BENCH_INGEST_KEY
from bench.ingest_servers import replaydesk_arguments, sqlite_database
from bench.rrweb_batches import batch_bodies
from bench.server_process import ServerProcess
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS

__all__ = ["run_viewer_benchmark"]

# One batch every 5 s for an hour; ~12 KB of events each is a busy page (~8.6 MB in all).
FULL_BATCHES, QUICK_BATCHES = 720, 60
BATCH_JSON_BYTES = 12 * 1024
RUNS = 3
TARGET_FIRST_FRAME_MS = 1000
PAGE_TIMEOUT_MS = 120_000

_MARKS = """() => Object.fromEntries(
  performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]))"""
# What a viewer that waits for the whole session does before its first frame.
_WHOLE_LOAD = """async ([sid, token]) => {
  const started = performance.now();
  const response = await fetch(`/api/v1/sessions/${sid}/events`,
    {headers: {Authorization: `Bearer ${token}`}});
  const events = JSON.parse(await response.text());
  return [performance.now() - started, events.length];
}"""


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


async def _mint(base: str, sid: str) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        response = await client.post(
            f"/api/v1/sessions/{sid}/links",
            json={},
            headers={"Authorization": f"Bearer {BENCH_API_KEY}"},
        )
        response.raise_for_status()
        token = str(response.json()["token"])
    # The bench server's public URL is not its loopback port; build the same link on it.
    return f"{base}/replay/{sid}#t={token}", token


async def _one_run(page: Page, url: str, sid: str, token: str) -> tuple[float, float, float, int]:
    await page.goto(url)
    await page.wait_for_selector("[data-started=true]", timeout=PAGE_TIMEOUT_MS)
    await page.wait_for_selector("body[data-loaded=true]", timeout=PAGE_TIMEOUT_MS)
    marks = await page.evaluate(_MARKS)
    whole_ms, count = await page.evaluate(_WHOLE_LOAD, [sid, token])
    return marks["replaydesk:first-frame"], marks["replaydesk:all-events"], whole_ms, count


async def run_viewer_benchmark(quick: bool) -> str:
    """Ingest an hour-long session, open it in Chromium, print first-frame figures."""
    batches = QUICK_BATCHES if quick else FULL_BATCHES
    with tempfile.TemporaryDirectory(prefix="replaydesk-viewer-bench-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "data"
        data_dir.mkdir()
        async with sqlite_database(data_dir) as database_url:
            arguments = replaydesk_arguments("replaydesk", data_dir, database_url)
            async with ServerProcess(arguments, workdir / "server.log") as server:
                sid = await _ingest(server.base_url, batches)
                results = []
                async with async_playwright() as playwright:
                    browser = await playwright.chromium.launch(
                        executable_path=CHROMIUM, args=CHROMIUM_ARGS
                    )
                    for _ in range(RUNS):
                        url, token = await _mint(server.base_url, sid)
                        context = await browser.new_context()
                        page = await context.new_page()
                        results.append(await _one_run(page, url, sid, token))
                        await context.close()
                    await browser.close()
    first = statistics.median(r[0] for r in results)
    streamed = statistics.median(r[1] for r in results)
    whole = statistics.median(r[2] for r in results)
    minutes = batches * 5 / 60
    rows = [
        ["first frame (from navigation)", f"{first:.0f} ms"],
        ["all events loaded (baseline: a viewer that waits starts here)", f"{streamed:.0f} ms"],
        ["first frame / all events loaded", f"{ratio(first, streamed):.2f}"],
        ["events fetch + JSON.parse alone, page already open", f"{whole:.0f} ms"],
        [
            f"target first frame <= {TARGET_FIRST_FRAME_MS} ms",
            verdict(first <= TARGET_FIRST_FRAME_MS),
        ],
    ]
    title = (
        f"Viewer: {minutes:.0f}-minute session, {results[0][3]} events, "
        f"median of {RUNS} loads in Chromium over loopback"
    )
    return title + "\n" + format_table(["figure", "value"], rows)


if __name__ == "__main__":
    import sys

    print(asyncio.run(run_viewer_benchmark(quick="--quick" in sys.argv)))
