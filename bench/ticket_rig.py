"""The set-up both ticket benchmarks share: database, Redis, a stand-in tracker, the service."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
from redis import Redis

from bench.ingest_server import BENCH_API_KEY, BENCH_INGEST_KEY
from bench.server_process import ROOT, free_port
from bench.temp_postgres import postgres_available, temporary_database
from bench.ticket_server import (
    BENCH_SECRET,
    BENCH_VENDOR_TOKEN,
    TASKBOARD,
    taskboard_module,
)
from service.storage.database import upgrade_database

# The example plugin's stand-in Taskboard: comments in memory, each with its arrival time.
_fake = taskboard_module("replaydesk_taskboard.fake_server")
FakeTaskboard, signed_webhook = _fake.FakeTaskboard, _fake.signed_webhook

__all__ = ["BENCH_REDIS_URL", "TicketRig", "ticket_rig"]

# Its own Redis database: the ingest benchmark uses 14, the tests 15.
BENCH_REDIS_URL = "redis://127.0.0.1:6379/13"
READY_SECONDS = 60.0
SESSION_START_MS = 1_790_000_000_000


class TicketRig:
    """A running service with the example Taskboard plugin, and the means to drive it."""

    def __init__(self, workdir: Path, database_url: str, database: str, vendor: Any) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.database = database
        self.vendor = vendor
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._processes: list[subprocess.Popen[bytes]] = []

    def _spawn(self, role: str, *extra: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{role}-{len(self._processes)}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.ticket_server",
                role,
                *extra,
                "--data-dir",
                str(self.workdir),
                "--database-url",
                self.database_url,
                "--redis-url",
                BENCH_REDIS_URL,
                "--vendor-url",
                self.vendor.url,
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._processes.append(process)
        return process

    async def start_service(self, embedded: bool = False) -> None:
        """`replaydesk serve`; `embedded`: without a Redis URL, so with its own private Redis
        (in the work dir) and worker thread, as `make run` starts it."""
        process = self._spawn(
            "serve", "--port", str(self.port), *(["--embedded"] if embedded else [])
        )
        deadline = time.monotonic() + READY_SECONDS
        async with httpx.AsyncClient(trust_env=False) as client:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"the service exited early; see {self.workdir}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.base_url}/health")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError("the service did not become healthy")

    def start_worker(
        self, burst: bool = False, fork: bool = True, threads: int = 0
    ) -> subprocess.Popen[bytes]:
        """A `replaydesk worker`: forking, or with `fork=False` not, or with `threads` that
        many workers on threads of one process."""
        mode = ["--threads", str(threads)] if threads else [] if fork else ["--no-fork"]
        return self._spawn("work", *(["--burst"] if burst else []), *mode)

    async def wait_for_workers(self, count: int) -> None:
        """Until `count` RQ workers have registered in Redis (their start-up is not a job's
        latency)."""
        from rq import Worker

        deadline = time.monotonic() + READY_SECONDS
        with Redis.from_url(BENCH_REDIS_URL) as redis:
            while Worker.count(connection=redis) < count:
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker did not start")
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self._processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    async def record_sessions(self, client: httpx.AsyncClient, users: int) -> None:
        """One short session with an error and a failed request per user `u0`, `u1`, ..."""
        for user in range(users):
            start = SESSION_START_MS + user * 1000
            events = [
                {"type": 4, "timestamp": start, "data": {"href": "https://shop.test/cart"}},
                {
                    "type": 6,
                    "timestamp": start + 500,
                    "data": {
                        "plugin": "replaydesk/network@1",
                        "payload": {
                            "method": "POST",
                            "url": "https://shop.test/api/pay",
                            "status": 500,
                            "duration": 80,
                        },
                    },
                },
                {
                    "type": 6,
                    "timestamp": start + 600,
                    "data": {
                        "plugin": "rrweb/console@1",
                        "payload": {
                            "level": "error",
                            "trace": ["at pay (app.js:1:1)"],
                            "payload": ['"payment failed"'],
                        },
                    },
                },
            ]
            body = {
                "session_id": f"bench-sess-{user:05d}",
                "seq": 0,
                "user_id": f"u{user}",
                "events": events,
            }
            response = await client.post(
                f"{self.base_url}/api/v1/ingest",
                content=msgspec.json.encode(body),
                headers={"X-ReplayDesk-Key": BENCH_INGEST_KEY},
            )
            response.raise_for_status()

    async def ticket_event(self, client: httpx.AsyncClient, ticket_id: str, user: int) -> None:
        """What the vendor sends when a ticket is opened: a signed webhook."""
        created = datetime.fromtimestamp((SESSION_START_MS + user * 1000 + 700) / 1000, tz=UTC)
        ticket = {"id": ticket_id, "created_at": created.isoformat(), "reporter_id": f"u{user}"}
        body, headers = signed_webhook(BENCH_SECRET, {"event": "ticket.created", "ticket": ticket})
        response = await client.post(
            f"{self.base_url}/webhooks/{TASKBOARD}", content=body, headers=headers
        )
        response.raise_for_status()
        assert response.json()["job_id"], response.text

    async def attach(self, client: httpx.AsyncClient, ticket_id: str, user: int) -> None:
        """An attach request through the API."""
        response = await client.post(
            f"{self.base_url}/api/v1/tickets/attach",
            json={"provider": TASKBOARD, "ticket_id": ticket_id, "user_id": f"u{user}"},
            headers={"Authorization": f"Bearer {BENCH_API_KEY}"},
        )
        response.raise_for_status()

    def arrivals(self) -> dict[str, float]:
        """When each ticket's first comment arrived at the vendor (Unix seconds), by ticket."""
        firsts = {ticket: self.vendor.comments_on(ticket) for ticket in list(self.vendor.comments)}
        return {
            ticket: comments[0]["created_at"] for ticket, comments in firsts.items() if comments
        }

    async def wait_for(self, count: int, max_seconds: float) -> bool:
        """Until the vendor has `count` tickets' comments; False when time ran out."""
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            if len(self.arrivals()) >= count:
                return True
            await asyncio.sleep(0.02)
        return False


@contextlib.asynccontextmanager
async def ticket_rig(purpose: str, embedded: bool = False) -> AsyncIterator[TicketRig]:
    """A fresh database (PostgreSQL when it answers, else SQLite), Redis db 13, a stand-in
    Taskboard, the service; `embedded`: a service with its own Redis and worker thread, on a
    SQLite file, as `make run` starts it."""
    with tempfile.TemporaryDirectory(prefix=f"replaydesk-{purpose}-") as tmp:
        workdir = Path(tmp)
        with Redis.from_url(BENCH_REDIS_URL) as redis:
            redis.flushdb()
        async with contextlib.AsyncExitStack() as stack:
            if not embedded and await postgres_available():
                url = await stack.enter_async_context(temporary_database(purpose))
                database = "PostgreSQL"
            else:
                url = f"sqlite+aiosqlite:///{workdir / 'replaydesk.db'}"
                database = "SQLite"
            await asyncio.to_thread(upgrade_database, url)
            vendor = stack.enter_context(FakeTaskboard(token=BENCH_VENDOR_TOKEN))
            rig = TicketRig(workdir, url, database, vendor)
            stack.callback(rig.stop)
            await rig.start_service(embedded)
            yield rig
