"""How close a replay looks to the live page: a page with stylesheets, a web font and background
images is recorded by the real recorder, screenshotted live at several moments, then replayed
and screenshotted at the same moments; each pair gets an image-similarity score."""

from __future__ import annotations

import asyncio
import base64
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, async_playwright

from bench.figures import format_table
from bench.ingest_server import BENCH_API_KEY, BENCH_INGEST_KEY
from bench.ingest_servers import replaydesk_arguments, sqlite_database
from bench.server_process import ServerProcess
from bench.static_site import serve_folder
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS

__all__ = ["run_fidelity_benchmark"]

VIEWPORT = {"width": 1024, "height": 700}
# Wide enough that the viewer shows the 1024 x 700 recording at scale 1, pixel for pixel.
VIEWER_VIEWPORT = {"width": 1900, "height": 1200}
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf")
SETTLE_MS = 700
PAGE_TIMEOUT_S = 60

_SITE_CSS = """
@font-face { font-family: "Brand"; src: url("brand.ttf") format("truetype"); }
/* The replay frame has no scrollbar; the live page must not have one either to compare. */
html { scrollbar-width: none; }
body { margin: 0; font: 16px/1.5 sans-serif; color: #223; background: #f4f1ea url("paper.svg"); }
header { height: 180px; padding: 32px; box-sizing: border-box; color: #fff;
  background: #1d3557 url("hero.svg") center / cover no-repeat; }
h1 { font-family: "Brand", serif; font-size: 44px; margin: 0; }
.cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 20px; padding: 24px; }
.card { height: 220px; border-radius: 12px; padding: 16px; background: #fff url("badge.svg")
  right 12px bottom 12px / 64px no-repeat; box-shadow: 0 2px 8px rgba(0, 0, 0, .15); }
.card.sale { outline: 4px solid #e63946; }
footer { height: 600px; background: linear-gradient(#f4f1ea, #a8dadc); }
"""
_SVGS = {
    "paper.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24">'
    '<rect width="24" height="24" fill="#f4f1ea"/>'
    '<circle cx="4" cy="4" r="2" fill="#e0d8c8"/></svg>',
    "hero.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="100">'
    '<rect width="400" height="100" fill="#1d3557"/><path d="M0 100 L120 20 L240 100 Z" '
    'fill="#457b9d"/><path d="M160 100 L300 10 L400 100 Z" fill="#a8dadc"/></svg>',
    "badge.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    '<circle cx="32" cy="32" r="30" fill="#e63946"/><text x="32" y="40" font-size="20" '
    'text-anchor="middle" fill="#fff">%</text></svg>',
}
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lamps</title>
<link rel="stylesheet" href="site.css">
<script src="SERVICE/recorder.js"></script>
<script>ReplayDesk.init(OPTIONS);</script>
</head><body>
<header><h1>Lamps &amp; Light</h1><p>Autumn collection</p></header>
<section class="cards" id="cards">
  <article class="card"><h2>Arc lamp</h2><p>Brushed brass, 180 cm.</p></article>
  <article class="card"><h2>Desk lamp</h2><p>Oak and linen.</p></article>
  <article class="card"><h2>Pendant</h2><p>Hand-blown glass.</p></article>
</section>
<footer></footer>
<script>
  const steps = [
    () => {},
    () => scrollTo({top: 140, behavior: "instant"}),
    () => {
      const card = document.createElement("article");
      card.className = "card";
      card.innerHTML = "<h2>Floor lamp</h2><p>Black steel.</p>";
      document.getElementById("cards").append(card);
    },
    () => document.querySelector(".card").classList.add("sale"),
    () => scrollTo({top: 0, behavior: "instant"}),
  ];
  window.runStep = (i) => steps[i]();
</script>
</body></html>
"""
# Mean absolute difference of two same-sized PNGs over RGB, and the share of pixels that differ
# visibly (any channel by more than 32), computed in the browser (no image library needed).
_COMPARE = """async ([a, b]) => {
  const load = async (data) => {
    const image = await createImageBitmap(await (await fetch(data)).blob());
    const canvas = new OffscreenCanvas(image.width, image.height);
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    return context.getImageData(0, 0, image.width, image.height);
  };
  const [x, y] = [await load(a), await load(b)];
  if (x.width !== y.width || x.height !== y.height) {
    return [null, null, [x.width, x.height, y.width, y.height]];
  }
  let sum = 0, differing = 0;
  for (let i = 0; i < x.data.length; i += 4) {
    let worst = 0;
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(x.data[i + c] - y.data[i + c]);
      sum += d;
      if (d > worst) worst = d;
    }
    if (worst > 32) differing++;
  }
  const pixels = x.data.length / 4;
  return [sum / (pixels * 3), differing / pixels, null];
}"""
_SEEK = """([offset]) => {
  const track = document.querySelector("[data-testid=timeline]");
  const box = track.getBoundingClientRect();
  const duration = Number(track.getAttribute("aria-valuemax"));
  const clientX = box.left + (offset / duration) * box.width;
  track.dispatchEvent(new MouseEvent("click", {bubbles: true, clientX}));
  const mouse = document.querySelector(".replayer-mouse");
  if (mouse) mouse.style.display = "none";
}"""
STEP_NAMES = (
    "loaded",
    "scrolled 140 px",
    "a card added",
    "a card's class changed",
    "scrolled back to the top",
)


def _site(folder: Path, service: str) -> None:
    options = {
        "key": BENCH_INGEST_KEY,
        "endpoint": service,
        "userId": "fidelity-bench",
        "flushIntervalMs": 300,
    }
    (folder / "index.html").write_text(
        _PAGE.replace("SERVICE", service).replace("OPTIONS", json.dumps(options))
    )
    (folder / "site.css").write_text(_SITE_CSS)
    (folder / "brand.ttf").write_bytes(FONT.read_bytes())
    for name, svg in _SVGS.items():
        (folder / name).write_text(svg)


async def _poll(page: Page, expression: str) -> Any:
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while time.monotonic() < deadline:
        value = await page.evaluate(expression)
        if value:
            return value
        await page.wait_for_timeout(50)
    raise TimeoutError(expression)


async def _record_live(browser: Browser, site: str) -> tuple[str, list[int], list[bytes]]:
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(f"{site}/index.html")
    await page.evaluate("document.fonts.ready.then(() => true)")
    await page.wait_for_load_state("load")
    moments, shots = [], []
    for index in range(len(STEP_NAMES)):
        await page.evaluate(f"runStep({index})")
        await page.wait_for_timeout(SETTLE_MS)
        moments.append(int(await page.evaluate("Date.now()")))
        shots.append(await page.screenshot())
    # Something recorded after the last moment, so the timeline reaches past it.
    await page.mouse.move(10, 10)
    await page.mouse.move(40, 60)
    session_id = str(await _poll(page, "ReplayDesk.getSessionId()"))
    await page.wait_for_timeout(1000)
    await context.close()
    return session_id, moments, shots


async def _wait_recorded(base: str, session_id: str, after: int) -> int:
    headers = {"Authorization": f"Bearer {BENCH_API_KEY}"}
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as client:
        while time.monotonic() < deadline:
            response = await client.get(f"/api/v1/sessions/{session_id}/events", headers=headers)
            if response.status_code == 200:
                events = response.json()
                if events and events[-1]["timestamp"] > after:
                    return int(events[0]["timestamp"])
            await asyncio.sleep(0.3)
    raise TimeoutError("the recording never reached its last moment")


async def _replay(browser: Browser, base: str, session_id: str, offsets: list[int]) -> list[bytes]:
    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        response = await client.post(
            f"/api/v1/sessions/{session_id}/links",
            json={},
            headers={"Authorization": f"Bearer {BENCH_API_KEY}"},
        )
        response.raise_for_status()
        token = response.json()["token"]
    context = await browser.new_context(viewport=VIEWER_VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(f"{base}/replay/{session_id}#t={token}")
    await _poll(page, "document.body.dataset.loaded === 'true'")
    box = await page.locator("[data-testid=replay-frame] iframe").bounding_box()
    assert box is not None
    # The frame's own pixels, on whole-pixel bounds, at the live page's size.
    clip = {"x": round(box["x"]), "y": round(box["y"]), **VIEWPORT}
    shots = []
    for offset in offsets:
        await page.evaluate(_SEEK, [offset])
        await page.wait_for_timeout(SETTLE_MS)
        shots.append(await page.screenshot(clip=clip))  # type: ignore[arg-type]
    await context.close()
    return shots


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


async def run_fidelity_benchmark(quick: bool) -> str:
    """Record a styled page, replay it, print a similarity score per moment."""
    del quick  # one size: five moments take a few seconds
    rows = []
    with tempfile.TemporaryDirectory(prefix="replaydesk-fidelity-bench-") as tmp:
        workdir = Path(tmp)
        data_dir, site_dir = workdir / "data", workdir / "site"
        data_dir.mkdir()
        site_dir.mkdir()
        async with sqlite_database(data_dir) as database_url:
            arguments = replaydesk_arguments("replaydesk", data_dir, database_url)
            async with ServerProcess(arguments, workdir / "server.log") as server:
                _site(site_dir, server.base_url)
                with serve_folder(site_dir) as site:
                    async with async_playwright() as playwright:
                        browser = await playwright.chromium.launch(
                            executable_path=CHROMIUM, args=CHROMIUM_ARGS
                        )
                        session_id, moments, live = await _record_live(browser, site)
                        start = await _wait_recorded(server.base_url, session_id, moments[-1])
                        offsets = [moment - start for moment in moments]
                        replayed = await _replay(browser, server.base_url, session_id, offsets)
                        judge = await (await browser.new_context()).new_page()
                        for name, offset, a, b in zip(
                            STEP_NAMES, offsets, live, replayed, strict=True
                        ):
                            mad, share, sizes = await judge.evaluate(
                                _COMPARE, [_data_url(a), _data_url(b)]
                            )
                            if sizes is not None:
                                rows.append([name, f"{offset} ms", "sizes differ", str(sizes), ""])
                                continue
                            rows.append(
                                [
                                    name,
                                    f"{offset} ms",
                                    f"{mad:.2f}",
                                    f"{share * 100:.2f} %",
                                    f"{1 - mad / 255:.4f}",
                                ]
                            )
                        await browser.close()
    title = (
        "Replay fidelity: a page with a stylesheet, a web font and background images, live vs "
        f"replayed (paused after a seek), {VIEWPORT['width']}x{VIEWPORT['height']} in Chromium"
    )
    header = ["moment", "at", "mean abs diff (0-255)", "pixels off > 32", "similarity"]
    return title + "\n" + format_table(header, rows)


if __name__ == "__main__":
    print(asyncio.run(run_fidelity_benchmark(quick=True)))
