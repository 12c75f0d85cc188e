"""Live view latency: from a batch sent by a customer's recorder to the moment a live viewer's
stream hands it over, with 50 sessions watched at once, each sending a batch a second (the
rate the recorder keeps while watched), on SQLite with the processing workers.

What the agent sees is that, plus the replay's own lag: the page plays one second behind the
customer's newest event (`LIVE_BEHIND_MS` in viewer/src/live.ts), so an event is visible about
max(delivery, 1 s) after it was sent. Printed, never asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

import httpx
import msgspec

from bench.figures import format_table, percentile, verdict
from bench.ingest_server import BENCH_API_KEY, BENCH_INGEST_KEY
from bench.ingest_servers import flush_bench_redis, replaydesk_arguments, sqlite_database
from bench.server_process import ServerProcess

__all__ = ["run"]

TARGET_VISIBLE_P95_MS = 2000.0
# How far behind the customer's newest event the live replay plays (viewer/src/live.ts).
VIEWER_BEHIND_MS = 1000.0
FULL_SESSIONS, QUICK_SESSIONS = 50, 10
FULL_SECONDS, QUICK_SECONDS = 30, 8
_API = {"Authorization": f"Bearer {BENCH_API_KEY}"}
_INGEST = {"X-ReplayDesk-Key": BENCH_INGEST_KEY, "Content-Type": "application/json"}


def _first_batch(session_id: str, now: int) -> bytes:
    snapshot = {
        "type": 2,
        "timestamp": now,
        "data": {
            "node": {"type": 0, "id": 1, "childNodes": []},
            "initialOffset": {"left": 0, "top": 0},
        },
    }
    meta = {
        "type": 4,
        "timestamp": now,
        "data": {"href": "https://shop.test/", "width": 1280, "height": 800},
    }
    return msgspec.json.encode(
        {
            "session_id": session_id,
            "seq": 0,
            "user_id": f"u-{session_id}",
            "events": [meta, snapshot],
        }
    )


def _moves(session_id: str, seq: int, now: int) -> bytes:
    """A second of pointer moves, as the recorder sends them while watched."""
    positions = [{"x": 10 + i, "y": 20 + i, "id": 1, "timeOffset": -100 * i} for i in range(10)]
    event = {"type": 3, "timestamp": now, "data": {"source": 1, "positions": positions}}
    return msgspec.json.encode({"session_id": session_id, "seq": seq, "events": [event]})


class _Viewer:
    """One live viewer: when each batch reached it."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.caught_up = asyncio.Event()

    async def follow(self, http: httpx.AsyncClient, session_id: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        url = f"/api/v1/sessions/{session_id}/live"
        async with http.stream("GET", url, headers=headers, timeout=None) as response:
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "caught-up":
                        self.caught_up.set()
                elif line.startswith("data: ") and event == "batch":
                    seq = int(line[6:].split(",", 1)[0].removeprefix('{"seq":'))
                    self.arrived.setdefault(seq, time.monotonic())
                elif line == "":
                    event = ""


async def _session(
    http: httpx.AsyncClient, session_id: str, seconds: float, sent: dict[int, float]
) -> None:
    """The customer's recorder: a batch a second for `seconds`."""
    seq = 1
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        sent[seq] = started
        answer = await http.post(
            "/api/v1/ingest",
            content=_moves(session_id, seq, int(time.time() * 1000)),
            headers=_INGEST,
        )
        answer.raise_for_status()
        seq += 1
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


async def _measure(base_url: str, sessions: int, seconds: float) -> tuple[list[float], int, int]:
    limits = httpx.Limits(max_connections=sessions * 2 + 10)
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=30, trust_env=False
    ) as http:
        ids = [f"sess-live-bench-{n:04d}" for n in range(sessions)]
        now = int(time.time() * 1000)
        for session_id in ids:
            (
                await http.post(
                    "/api/v1/ingest", content=_first_batch(session_id, now), headers=_INGEST
                )
            ).raise_for_status()
        tokens = {}
        for session_id in ids:
            for _ in range(100):  # the processing workers store the first batch a moment later
                minted = await http.post(
                    f"/api/v1/sessions/{session_id}/links", json={"live": True}, headers=_API
                )
                if minted.status_code == 201:
                    tokens[session_id] = minted.json()["token"]
                    break
                await asyncio.sleep(0.05)
        viewers = {session_id: _Viewer() for session_id in ids}
        following = [
            asyncio.create_task(viewers[s].follow(http, s, tokens[s])) for s in ids if s in tokens
        ]
        await asyncio.wait_for(asyncio.gather(*(v.caught_up.wait() for v in viewers.values())), 30)
        sent: dict[str, dict[int, float]] = {s: {} for s in ids}
        await asyncio.gather(*(_session(http, s, seconds, sent[s]) for s in ids))
        await asyncio.sleep(3)  # the last batches' way to the viewers
        for task in following:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*following, return_exceptions=True)
    delays, lost, total = [], 0, 0
    for session_id in ids:
        for seq, at in sent[session_id].items():
            total += 1
            arrived = viewers[session_id].arrived.get(seq)
            if arrived is None:
                lost += 1
            else:
                delays.append((arrived - at) * 1000)
    return delays, lost, total


async def _run(quick: bool) -> str:
    sessions = QUICK_SESSIONS if quick else FULL_SESSIONS
    seconds = QUICK_SECONDS if quick else FULL_SECONDS
    flush_bench_redis()
    with tempfile.TemporaryDirectory(prefix="replaydesk-live-bench-") as folder:
        root = Path(folder)
        async with sqlite_database(root) as database_url:
            server = ServerProcess(
                replaydesk_arguments("replaydesk", root, database_url), root / "server.log"
            )
            await server.start()
            try:
                delays, lost, total = await _measure(server.base_url, sessions, seconds)
            finally:
                await server.stop()
    p50, p95, worst = (
        percentile(delays, 0.5),
        percentile(delays, 0.95),
        max(delays, default=float("nan")),
    )
    visible_p95 = max(p95, VIEWER_BEHIND_MS)
    table = format_table(
        [
            "watched sessions",
            "batches",
            "not delivered",
            "delivery p50/p95/max ms",
            "visible p95 ms (>= 1 s behind)",
            f"target p95 <= {TARGET_VISIBLE_P95_MS:.0f} ms",
        ],
        [
            [
                str(sessions),
                str(total),
                str(lost),
                f"{p50:.0f} / {p95:.0f} / {worst:.0f}",
                f"{visible_p95:.0f}",
                verdict(visible_p95 <= TARGET_VISIBLE_P95_MS and lost == 0),
            ]
        ],
    )
    return (
        "Live view: a batch a second from each watched session, from its POST to the viewer's "
        "stream (ack, processing worker, Redis pub/sub, server-sent events); SQLite and the "
        "bench's Redis, processing workers as serve starts them\n" + table
    )


def run(quick: bool) -> None:
    """Print the live view figures."""
    print(asyncio.run(_run(quick)), flush=True)
