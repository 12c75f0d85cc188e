"""ReplayDesk's recorder beside its peers: bundle, bytes on the wire, main-thread time and whether
the session arrived whole, for the same scripted visit in alternating rounds of one browser.

Every recorder sends to one loopback collector, which logs each request body as it arrived;
Chromium resolves no other host, and what tried to reach one is counted."""

from __future__ import annotations

import gzip
import json
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

from bench.figures import format_table, verdict
from bench.recorder_harness import RECORDER_JS, bundle_like_the_recorder
from bench.recorder_site import Collector, Site, bench_world
from bench.recorder_uploads import (
    TAIL_MS,
    Completeness,
    Delivered,
    PageLoad,
    completeness,
    decode_uploads,
    replaydesk_breakdown,
)
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS

__all__ = ["TODAY_KIB_PER_MINUTE", "run"]

PEERS_DIR = Path(__file__).resolve().parent / "recorder_peers"
# ReplayDesk on this scenario before its exit path changed (one round of twelve page loads,
# 2026-12-07); it dropped the last page's final seconds, which later versions deliver.
TODAY_KIB_PER_MINUTE = 207.0
TARGET_BUNDLE_KIB = 30.0
QUICK = (1, 3)  # rounds, page loads per pass
FULL = (3, 12)
TYPING_DELAY_MS = 180  # about five characters a second
INGEST_KEY = "bench-ingest-key"
# Installed in every page before its own scripts: each long task's blocking part goes to Python.
_LONG_TASKS = """
new PerformanceObserver((list) => {
  for (const task of list.getEntries()) window.reportLongTask(task.duration);
}).observe({ type: 'longtask', buffered: true });
"""
# rrweb's record() with its defaults and inputs masked, events gzipped in 5 s batches, what is
# left at pagehide sent by beacon: what a site gets from rrweb alone.
_BARE_RRWEB = """
import { record } from '@rrweb/record';
(window as any).BareRrweb = {
  start(url: string) {
    let events: unknown[] = [];
    const gzip = async (text: string) => new Uint8Array(await new Response(
      new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
    const flush = () => {
      if (!events.length) return;
      const text = JSON.stringify(events);
      events = [];
      void gzip(text).then((body) => fetch(url, { method: 'POST', body, keepalive: true }));
    };
    record({ emit: (event) => { events.push(event); }, maskAllInputs: true });
    setInterval(flush, 5000);
    addEventListener('pagehide', () => {
      if (events.length) navigator.sendBeacon(url, JSON.stringify(events));
      events = [];
    });
  },
};
"""


@dataclass(frozen=True)
class Recorder:
    """One recorder on test: its name, decoder kind, scripts and snippet."""

    name: str
    kind: str
    scripts: tuple[str, ...]
    snippet: Callable[[Collector], str]


def _recorders() -> list[Recorder]:
    def replaydesk(collector: Collector) -> str:
        options = {"key": INGEST_KEY, "endpoint": collector.origin, "userId": "bench-visitor"}
        return (
            '<script src="/peer/replaydesk.js"></script>\n'
            f"<script>ReplayDesk.init({json.dumps(options)});</script>"
        )

    def posthog(collector: Collector) -> str:
        options = {
            "api_host": collector.origin,
            "person_profiles": "always",
            # Headless Chromium says so in its user agent; PostHog would drop its events.
            "opt_out_useragent_filter": True,
            # Surveys and site apps would load more code; the session recording is on test.
            "disable_surveys": True,
            "session_recording": {"maskAllInputs": True},
        }
        return (
            '<script src="/peer/posthog.js"></script>\n'
            f'<script>posthog.init("phc_bench", {json.dumps(options)});</script>'
        )

    def sentry(collector: Collector) -> str:
        dsn = collector.origin.replace("http://", "http://benchkey@") + "/1"
        return (
            '<script src="/peer/sentry.js"></script>\n'
            f"<script>SentryBench.start({json.dumps(dsn)});</script>"
        )

    def rrweb(collector: Collector) -> str:
        return (
            '<script src="/peer/rrweb.js"></script>\n'
            f"<script>BareRrweb.start({json.dumps(collector.origin + '/rrweb')});</script>"
        )

    return [
        Recorder("no recorder", "none", (), lambda _: ""),
        Recorder("ReplayDesk", "replaydesk", ("replaydesk.js",), replaydesk),
        Recorder("rrweb record() alone, gzip 5 s batches", "rrweb", ("rrweb.js",), rrweb),
        Recorder(
            "PostHog (array.js + lazy recorder)",
            "posthog",
            ("posthog.js", "lazy-recorder.js"),
            posthog,
        ),
        Recorder("Sentry (@sentry/browser + replayIntegration)", "sentry", ("sentry.js",), sentry),
    ]


def _peer_bundles() -> dict[str, bytes] | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        print("(node and npm are needed for the peers)")
        return None
    if not (PEERS_DIR / "node_modules").is_dir():
        print("(installing the peers into bench/recorder_peers: npm ci)", flush=True)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=PEERS_DIR, check=True, timeout=600
        )
    result = subprocess.run(
        [node, "build.mjs"], cwd=PEERS_DIR, capture_output=True, text=True, timeout=300, check=True
    )
    peers: dict[str, str] = json.loads(result.stdout)
    rrweb = bundle_like_the_recorder({"rrweb.js": _BARE_RRWEB})
    if rrweb is None:
        return None
    return {**{name: code.encode() for name, code in peers.items()}, **rrweb}


@dataclass
class Pass:
    """One recorder's pass through the scripted visit."""

    seconds: float
    script_ms: float
    blocking_ms: float
    outbound: int
    delivered: Delivered
    complete: Completeness


def _leave_by(
    page: Page, action: Callable[[], Any], loads: list[PageLoad], started: float
) -> float:
    """Do the action that leaves this page; returns when the next document started."""
    left = time.time() * 1000
    loads.append(PageLoad(started, left))
    action()
    page.wait_for_load_state()
    origin: float = page.evaluate("performance.timeOrigin")
    return origin


def _wander(page: Page, points: list[tuple[int, int]]) -> None:
    for x, y in points:
        page.mouse.move(x, y, steps=12)
        page.wait_for_timeout(150)


def _shop(page: Page, number: int) -> None:
    page.wait_for_selector(".products button")
    _wander(page, [(300, 420), (620, 470), (900, 440), (640, 300)])
    page.mouse.wheel(0, 250)
    page.wait_for_timeout(600)
    page.click(f".products li:nth-child({1 + number % 3}) button")
    page.wait_for_timeout(900)


def _checkout(page: Page, number: int) -> None:
    page.wait_for_selector("input[name=email]")
    page.click("input[name=email]")
    page.keyboard.type(f"shopper{number}@example.org", delay=TYPING_DELAY_MS)
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
    page.wait_for_timeout(1500)
    _wander(page, [(400, 700), (600, 820), (700, 760)])


def _orders(page: Page) -> None:
    page.wait_for_timeout(500)
    page.click("#more")
    page.wait_for_timeout(400)
    page.click("#search")
    page.keyboard.type("customer 2", delay=120)
    page.wait_for_timeout(300)
    page.fill("#search", "")
    page.dispatch_event("#search", "input")
    page.click("#sort")
    page.wait_for_timeout(400)
    for _ in range(6):
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(150)
    page.click("#details")
    page.wait_for_timeout(400)
    page.click("#sort")
    page.wait_for_timeout(1000)
    _wander(page, [(200, 150), (120, 60)])


def _way_out(page: Page, site: str, step: int, last: bool) -> Callable[[], Any]:
    """How the visitor leaves a page: shop -> checkout by its link, checkout -> order list by a
    typed address, order list -> shop by its link; at the end, to a page without a recorder."""

    def leave() -> Any:
        if last:
            return page.goto(site + "/blank")
        if step == 0:
            return page.click("a.button.primary")
        if step == 1:
            return page.goto(site + "/orders")
        return page.click("#shop")

    return leave


def _visit(page: Page, site: str, loads_wanted: int, sample: Callable[[], None]) -> list[PageLoad]:
    """The scripted visitor: shop, checkout, order list, again, for `loads_wanted` page loads,
    each left the way people leave (a link, a typed address); the last one for a blank page."""
    loads: list[PageLoad] = []
    page.goto(site + "/demo")
    started: float = page.evaluate("performance.timeOrigin")
    for number in range(loads_wanted):
        step = number % 3
        last = number == loads_wanted - 1
        if step == 0:
            _shop(page, number)
        elif step == 1:
            _checkout(page, number)
        else:
            _orders(page)
        sample()
        started = _leave_by(page, _way_out(page, site, step, last), loads, started)
    return loads


def _pass(
    browser: Browser, site: Site, collector: Collector, recorder: Recorder, loads: int
) -> Pass:
    site.snippet = recorder.snippet(collector)
    collector.take()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocking: list[float] = []
    outbound: list[str] = []
    context.expose_function("reportLongTask", lambda ms: blocking.append(max(0.0, ms - 50)))
    context.add_init_script(_LONG_TASKS)
    loopback = ("http://127.0.0.1:", "data:", "blob:")
    context.on("request", lambda r: None if r.url.startswith(loopback) else outbound.append(r.url))
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    script_seconds: list[float] = []

    def sample() -> None:
        # The counters start again with each document: read them before the page is left.
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        script_seconds.append(metrics.get("ScriptDuration", 0.0))

    started = time.monotonic()
    page_loads = _visit(page, site.origin, loads, sample)
    seconds = time.monotonic() - started
    ended_ms = time.time() * 1000
    page.wait_for_timeout(3000)  # uploads in flight arrive
    context.close()
    time.sleep(0.5)
    delivered = decode_uploads(recorder.kind, collector.take())
    return Pass(
        seconds,
        1000 * sum(script_seconds),
        sum(blocking),
        len(outbound),
        delivered,
        completeness(delivered.events, page_loads, ended_ms),
    )


def _kib_per_minute(size: float, seconds: float) -> float:
    return size / 1024 / seconds * 60


def _bundle_kib(bundles: dict[str, bytes], recorder: Recorder) -> float:
    return (
        sum(len(gzip.compress(bundles[name], compresslevel=9)) for name in recorder.scripts) / 1024
    )


def _complete_text(done: Completeness, recorder: Recorder) -> str:
    if recorder.kind == "none":
        return "-"
    parts = (
        f"{done.snapshots}/{done.loads} snapshots, {done.page_views}/{done.loads} page views, "
        f"{done.tails}/{done.loads} tails"
    )
    return ("yes: " if done.whole else "NO: ") + parts


def _print_breakdown(passes: list[Pass]) -> None:
    delivered = passes[0].delivered
    minutes = passes[0].seconds / 60
    wire = delivered.replay_bytes
    rows = [
        [
            name,
            str(events),
            f"{raw / 1024:.1f}",
            f"{share:.0%}",
            f"{wire * share / 1024 / minutes:.1f}",
        ]
        for name, events, raw, share in replaydesk_breakdown(delivered)
    ]
    print("Where ReplayDesk's bytes go (first round):")
    print(format_table(["part", "events", "JSON KiB", "share of wire", "wire KiB/min"], rows))
    headers = _kib_per_minute(delivered.header_bytes, passes[0].seconds)
    print(
        f"requests: {delivered.requests}, HTTP request lines and headers {headers:.1f} KiB/min "
        "(not in the wire column)"
    )


def run(quick: bool) -> None:
    """Run every recorder through the visit, rounds alternated, and print them side by side."""
    rounds, loads = QUICK if quick else FULL
    if not RECORDER_JS.exists():
        print(f"{RECORDER_JS} is missing: run `make setup` first")
        return
    bundles = _peer_bundles()
    if bundles is None:
        return
    bundles["replaydesk.js"] = RECORDER_JS.read_bytes()
    recorders = _recorders()
    results: dict[str, list[Pass]] = {r.name: [] for r in recorders}
    with bench_world() as (site, collector), sync_playwright() as driver:
        site.bundles = bundles
        collector.scripts = {"lazy-recorder.js": bundles["lazy-recorder.js"]}
        collector.answers, collector.script_answers = _posthog_answers()
        # Every host but loopback fails to resolve: nothing leaves the machine.
        args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            for round_number in range(rounds):
                # Rotate which goes first, so drift in the machine's load hits all alike.
                for index in range(len(recorders)):
                    recorder = recorders[(index + round_number) % len(recorders)]
                    results[recorder.name].append(_pass(browser, site, collector, recorder, loads))
                    print(f"  round {round_number + 1}: {recorder.name} done", flush=True)
        finally:
            browser.close()
    _print_table(recorders, results, bundles, rounds, loads)
    _print_breakdown(results["ReplayDesk"])


def _posthog_answers() -> tuple[dict[str, tuple[int, bytes]], dict[str, bytes]]:
    """What PostHog's endpoints answer: recording on, to /s/, nothing else to load."""
    recording = {
        "endpoint": "/s/",
        "consoleLogRecordingEnabled": True,
        "recorderVersion": "v2",
        "networkPayloadCapture": None,
    }
    config = {
        "token": "phc_bench",
        "supportedCompression": ["gzip", "gzip-js"],
        "hasFeatureFlags": False,
        "sessionRecording": recording,
        "autocapture_opt_out": False,
        "surveys": False,
        "heatmaps": False,
        "siteApps": [],
    }
    flags = {
        "featureFlags": {},
        "featureFlagPayloads": {},
        "errorsWhileComputingFlags": False,
        **config,
    }
    remote = {"config": config, "siteApps": []}
    script = f"(window._POSTHOG_REMOTE_CONFIG ||= {{}}).phc_bench = {json.dumps(remote)};"
    return {
        "/flags/": (200, json.dumps(flags).encode()),
        "/decide/": (200, json.dumps(flags).encode()),
        "/array/phc_bench/config": (200, json.dumps(config).encode()),
        "/s/": (200, b'{"status":1}'),
        "/e/": (200, b'{"status":1}'),
        "/i/*": (200, b'{"status":1}'),
    }, {"/array/phc_bench/config.js": script.encode()}


def _print_table(
    recorders: list[Recorder],
    results: dict[str, list[Pass]],
    bundles: dict[str, bytes],
    rounds: int,
    loads: int,
) -> None:
    baseline = results["no recorder"]
    base_script = statistics.median(p.script_ms for p in baseline)
    base_blocking = statistics.median(p.blocking_ms for p in baseline)
    rows, figures = [], {}
    for recorder in recorders[1:]:
        passes = results[recorder.name]
        wire = statistics.median(
            _kib_per_minute(p.delivered.replay_bytes, p.seconds) for p in passes
        )
        other = statistics.median(
            _kib_per_minute(p.delivered.replay_bytes + p.delivered.other_bytes, p.seconds)
            for p in passes
        )
        script = statistics.median(p.script_ms for p in passes) - base_script
        blocking = statistics.median(p.blocking_ms for p in passes) - base_blocking
        worst = min(
            passes, key=lambda p: (p.complete.whole, p.complete.snapshots + p.complete.tails)
        )
        whole = all(p.complete.whole for p in passes)
        figures[recorder.kind] = (wire, script, blocking, whole, _bundle_kib(bundles, recorder))
        wire_text = f"{wire:.0f}" + (
            f" ({other:.0f} with its other calls)" if other > wire + 0.5 else ""
        )
        if not whole:
            wire_text += " [dropped data]"
        rows.append(
            [
                recorder.name,
                f"{_bundle_kib(bundles, recorder):.1f} KiB",
                wire_text,
                _complete_text(worst.complete, recorder),
                f"{script:+.0f} ms",
                f"{blocking:+.0f} ms",
                str(max(p.outbound for p in passes)),
            ]
        )
    seconds = statistics.median(p.seconds for p in baseline)
    print(
        f"Recorders side by side: {loads} page loads per pass (~{seconds:.0f} s), median of "
        f"{rounds} alternating round(s); tails = something from each page's last "
        f"{TAIL_MS / 1000:.0f} s arrived"
    )
    print(
        format_table(
            [
                "recorder",
                "bundle gzip -9",
                "wire KiB/min",
                "arrived complete?",
                "script added",
                "blocking added",
                "off-host tries",
            ],
            rows,
        )
    )
    _print_targets(figures)


def _print_targets(figures: dict[str, tuple[float, float, float, bool, float]]) -> None:
    wire, script, blocking, whole, bundle = figures["replaydesk"]
    peers = {kind: f for kind, f in figures.items() if kind != "replaydesk"}
    complete_peers = [f[0] for kind, f in peers.items() if f[3] and kind in ("posthog", "sentry")]
    checks = [
        (f"wire <= 0.85 x {TODAY_KIB_PER_MINUTE:.0f} KiB/min", wire <= 0.85 * TODAY_KIB_PER_MINUTE),
        (
            "wire below every peer that delivers the whole session",
            all(wire < w for w in complete_peers),
        ),
        ("ReplayDesk delivers the whole session", whole),
        ("blocking added <= every peer's", all(blocking <= f[2] for f in peers.values())),
        ("script added <= rrweb alone's + 5 %", script <= figures["rrweb"][1] * 1.05),
        (f"bundle <= {TARGET_BUNDLE_KIB:.0f} KiB gzip", bundle <= TARGET_BUNDLE_KIB),
    ]
    for text, met in checks:
        print(f"target: {text} -> {verdict(met)}")
