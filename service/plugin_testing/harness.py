"""The real attach pipeline in one process, for a plugin's tests (as pytest's `pytester` runs
pytest): the app on a temporary SQLite database, a real RQ queue on Redis, the plugin
registered in-process with settings from a dict, and jobs drained on demand with their delayed
retries brought forward, so "exactly one comment under a 429, a lost reply and a duplicate
webhook" is checked in about a second, without a running service or worker.
"""

from __future__ import annotations

import atexit
import functools
import logging
import math
import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from litestar.testing import TestClient
from redis import Redis
from rq.job import Job
from rq.queue import Queue
from rq.registry import ScheduledJobRegistry

from service.clock import now_ms
from service.jobs.context import close_job_loop
from service.jobs.embedded import EmbeddedRedis, InProcessScheduler, ThreadWorker
from service.jobs.queue import QUEUE_NAME
from service.jobs.runtime import configure_job_runtime
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import LoadedPlugin, ReplayDeskPluginManager
from service.plugin_host.types import ENV_PREFIX, PluginSettings, plugin_env_prefix
from service.plugin_testing.recording import checkout_batch
from service.settings import Settings
from service.storage.database import upgrade_database

__all__ = ["JobOutcome", "PluginHarness"]

API_KEY = "harness-api-key-0123456789"
INGEST_KEY = "harness-ingest-key"
# Housekeeping the app enqueues by itself; it calls no plugin, so it is not reported.
_HOUSEKEEPING = frozenset({"service.jobs.retention.purge_expired_sessions"})
# A job retried more often than this in one `run_jobs` call never settles (REMOTE_WRITE: 10).
_MAX_ROUNDS = 50
# The loggers the app's logging config sets handlers on.
_APP_LOGGERS = ("", "litestar")


@dataclass
class JobOutcome:
    """One job as `run_jobs` left it."""

    job_id: str
    function: str
    """The job function's name: `attach_report`, `resolve_requester`, `create_issue`, ..."""
    status: str
    """`finished` or `failed` (or `scheduled`/`queued` if left waiting)."""
    attempts: int
    waits: list[int] = field(default_factory=list)
    """The wait in whole seconds each of its delayed retries asked for (RQ keeps them to the
    second); the harness skipped them."""
    result: Any = None
    """What the job returned (`finished`): for an attach job, `{"remote": {...}, ...}`."""
    error: str | None = None
    """The last line of its error (`failed`)."""


class _RecordingWorker(ThreadWorker):
    """A burst worker that remembers which jobs it ran."""

    ran: list[str]

    def execute_job(self, job: Job, queue: Queue) -> Any:
        self.ran.append(job.id)
        return super().execute_job(job, queue)  # type: ignore[no-untyped-call]


@functools.cache
def _migrated_template() -> Path:
    """One migrated SQLite file per process; each harness gets a copy (migrating takes longer
    than the rest of a harness's start)."""
    folder = Path(tempfile.mkdtemp(prefix="replaydesk-harness-template-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "template.db"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    return path


def _default_name(plugin: object) -> str:
    module = getattr(plugin, "__name__", None)
    if isinstance(module, str):
        return module.rpartition(".")[2].removeprefix("replaydesk_")
    return type(plugin).__name__.lower()


class PluginHarness:
    """ReplayDesk with one plugin, in-process; use as a context manager.

    `settings` are the plugin's own (`{"URL": ..., "TOKEN": ...}`, as `REPLAYDESK_<NAME>_*`
    would give them). Redis: `redis_url`, else `REPLAYDESK_REDIS_URL`, else a private
    redis-server on a unix socket in the temporary folder. A given Redis database must be
    empty (it is emptied again at the end): give the tests a database of their own.
    """

    def __init__(
        self,
        plugin: object,
        settings: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
        redis_url: str | None = None,
    ) -> None:
        self.plugin = plugin
        self.name = name or _default_name(plugin)
        self.plugin_values = dict(settings or {})
        self._given_redis_url = redis_url or os.environ.get("REPLAYDESK_REDIS_URL") or None
        self._folder: Path | None = None
        self._embedded: EmbeddedRedis | None = None
        self._redis: Redis[bytes] | None = None
        self._client: TestClient[Any] | None = None
        self._jobs: ThreadPoolExecutor | None = None
        self._waits: dict[str, list[int]] = {}
        self._empty_at_close = False
        self._handlers: dict[str, list[logging.Handler]] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> PluginHarness:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _start(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="replaydesk-harness-"))
        redis_url = self._open_redis(self._folder)
        database = self._folder / "replaydesk.db"
        shutil.copyfile(_migrated_template(), database)
        prefix = plugin_env_prefix(self.name).removeprefix(ENV_PREFIX)
        self.service_settings = Settings(
            data_dir=self._folder,
            database_url=f"sqlite+aiosqlite:///{database}",
            redis_url=redis_url,
            secret_key=secrets.token_hex(16),
            api_keys=(API_KEY,),
            ingest_keys=(INGEST_KEY,),
            plugins=(self.name,),
            plugin_environment={f"{prefix}{k.upper()}": v for k, v in self.plugin_values.items()},
        )
        manager = ReplayDeskPluginManager()
        manager.register(self.plugin, name=self.name)
        manager.check_pending()  # a `replaydesk_*` function that is no hook fails here
        manager.loaded[self.name] = LoadedPlugin(
            name=self.name,
            target=repr(self.plugin),
            distribution=None,
            version=None,
            state="loaded",
        )
        self.host = PluginHost(manager, self.service_settings.plugin_environment)
        # The worker side of this process: jobs run with these settings and this plugin.
        configure_job_runtime(self.service_settings, self.host)
        self._jobs = ThreadPoolExecutor(1, thread_name_prefix="replaydesk-harness-jobs")
        from service.web.app import create_app

        self._handlers = {name: list(logging.getLogger(name).handlers) for name in _APP_LOGGERS}
        self._client = TestClient(app=create_app(self.service_settings, manager))
        self._client.__enter__()

    def _open_redis(self, folder: Path) -> str:
        if self._given_redis_url:
            self._redis = Redis.from_url(self._given_redis_url)
            if self._redis.dbsize():
                raise RuntimeError(
                    "the harness's Redis database is not empty; give the tests one of their own "
                    "(it is emptied at the end)"
                )
            self._empty_at_close = True
            return self._given_redis_url
        if shutil.which("redis-server") is None:
            raise RuntimeError("the harness needs redis-server (apt install redis-server)")
        self._embedded = EmbeddedRedis(folder)
        self._redis = self._embedded.start()
        return f"unix://{self._embedded.socket}"

    def close(self) -> None:
        """Stop the app, the job thread and Redis; remove the temporary folder."""
        if self._client is not None:
            self._client.__exit__(None, None, None)
            self._client = None
            self._restore_logging()
        if self._jobs is not None:
            # The job loop and its database engine belong to the job thread: closed there.
            self._jobs.submit(close_job_loop).result()
            self._jobs.shutdown()
            self._jobs = None
        if self._redis is not None:
            if self._empty_at_close:
                self._redis.flushdb()
            self._redis.close()
            self._redis = None
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _restore_logging(self) -> None:
        """Put back the log handlers the app's logging config replaced, stopping the queue
        listener thread each app starts (it would otherwise outlive the harness)."""
        for name, before in self._handlers.items():
            logger = logging.getLogger(name)
            for handler in logger.handlers:
                listener = getattr(handler, "listener", None)
                if handler not in before and getattr(listener, "_thread", None) is not None:
                    assert listener is not None
                    listener.stop()
                    atexit.unregister(listener.stop)  # stopping twice raises
            logger.handlers = before

    # -- what a test does ---------------------------------------------------------------------

    @property
    def client(self) -> TestClient[Any]:
        """The app's test client, for any other API call (`api_headers` authorises it)."""
        if self._client is None:
            raise RuntimeError("the harness is not running: use it in a `with` block")
        return self._client

    api_headers = {"Authorization": f"Bearer {API_KEY}"}

    @property
    def settings(self) -> PluginSettings:
        """The plugin's settings as its hooks receive them, to call a hook directly."""
        return self.host.settings_of(self.name)

    @property
    def provider(self) -> str:
        """The provider the plugin declares (the only one, in the harness)."""
        (name,) = self.host.providers()
        return name

    def record_session(self, user_id: str = "u42", session_id: str | None = None) -> str:
        """Ingest a realistic session of `user_id` through `POST /api/v1/ingest`: a checkout
        with rage clicks, a failed payment request and a console error. Returns its ID."""
        session = session_id or f"sess-{secrets.token_hex(6)}"
        answer = self.client.post(
            "/api/v1/ingest",
            content=checkout_batch(session, user_id, now_ms() - 60_000),
            headers={"X-ReplayDesk-Key": INGEST_KEY, "Content-Type": "application/json"},
        )
        if answer.status_code != 202:
            raise AssertionError(f"ingest answered {answer.status_code}: {answer.text}")
        return session

    def attach(
        self,
        ticket_id: str,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        ticket_created_at: datetime | None = None,
    ) -> httpx.Response:
        """`POST /api/v1/tickets/attach` for the plugin's provider (202 `{"job_id", ...}`)."""
        body: dict[str, Any] = {"provider": self.provider, "ticket_id": ticket_id}
        if user_id is not None:
            body["user_id"] = user_id
        if session_id is not None:
            body["session_id"] = session_id
        if ticket_created_at is not None:
            body["ticket_created_at"] = ticket_created_at.isoformat()
        return self.client.post("/api/v1/tickets/attach", json=body, headers=self.api_headers)

    def webhook(self, body: bytes, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """`POST /webhooks/{provider}` with this raw body and these headers."""
        return self.client.post(
            f"/webhooks/{self.provider}", content=body, headers=dict(headers or {})
        )

    def job(self, job_id: str) -> dict[str, Any]:
        """`GET /api/v1/jobs/{job_id}`: the state the API shows."""
        answer = self.client.get(f"/api/v1/jobs/{job_id}", headers=self.api_headers)
        answer.raise_for_status()
        state: dict[str, Any] = answer.json()
        return state

    def run_jobs(self, max_rounds: int = _MAX_ROUNDS) -> list[JobOutcome]:
        """Run every queued job with an in-process worker; bring each delayed retry forward
        (its wait is recorded, not waited for) and run it, until nothing is left to run.

        Returns the jobs run by this call, in the order they first ran.
        """
        if self._jobs is None:
            raise RuntimeError("the harness is not running: use it in a `with` block")
        return self._jobs.submit(self._drain, max_rounds).result()

    def _drain(self, max_rounds: int) -> list[JobOutcome]:
        assert self._redis is not None
        ran: list[str] = []
        for _ in range(max_rounds):
            worker = _RecordingWorker(
                [QUEUE_NAME], connection=self._redis, log_job_description=False
            )
            worker.ran = ran
            worker.work(burst=True, logging_level="WARNING")
            if not self._bring_retries_forward():
                break
        else:
            raise AssertionError(f"jobs still retrying after {max_rounds} rounds")
        outcomes: dict[str, JobOutcome] = {}
        for job_id in ran:
            job = Job.fetch(job_id, connection=self._redis)
            if job.func_name in _HOUSEKEEPING or job_id in outcomes:
                continue
            outcomes[job_id] = self._outcome(job)
        return list(outcomes.values())

    def _bring_retries_forward(self) -> int:
        """Let every delayed retry come due now, through RQ's own scheduler."""
        assert self._redis is not None
        registry = ScheduledJobRegistry(QUEUE_NAME, connection=self._redis)  # type: ignore[no-untyped-call]
        job_ids = registry.get_job_ids()
        now = datetime.now(tz=UTC)
        for job_id in job_ids:
            job = Job.fetch(job_id, connection=self._redis)
            due = registry.get_scheduled_time(job_id)  # type: ignore[no-untyped-call]
            # From the end of the attempt that asked; RQ floors due times to whole seconds.
            since = job.ended_at.replace(tzinfo=UTC) if job.ended_at else now
            wait = math.ceil(max(0.0, (due - since).total_seconds()))
            self._waits.setdefault(job_id, []).append(wait)
            registry.schedule(job, now)  # type: ignore[no-untyped-call]
        if job_ids:
            scheduler = InProcessScheduler(self._redis)
            try:
                scheduler.tick()
            finally:
                scheduler.release_locks()  # type: ignore[no-untyped-call]
        return len(job_ids)

    def _outcome(self, job: Job) -> JobOutcome:
        status = job.get_status()
        latest = job.latest_result()
        error = None
        if status == "failed" and latest is not None and latest.exc_string:
            error = latest.exc_string.strip().splitlines()[-1]
        return JobOutcome(
            job_id=job.id,
            function=(job.func_name or "").rpartition(".")[2],
            status=str(status.value if hasattr(status, "value") else status),
            attempts=(job.number_of_retries or 0) + 1,
            waits=list(self._waits.get(job.id, [])),
            result=job.return_value() if status == "finished" else None,
            error=error,
        )
