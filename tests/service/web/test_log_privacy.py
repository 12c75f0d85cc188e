"""No log line holds a request's path or query, a user or session ID, a token or a key.

The app runs under uvicorn with the options `replaydesk serve` uses, and every logger (the
service's, Litestar's, uvicorn's, RQ's) is captured at DEBUG while requests carry a marker in
the path, the query and the exception messages they cause.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from redis import Redis
from rq import Queue

from service import log_redaction
from service.jobs.embedded import ThreadWorker
from service.sessions.reader import SessionReader
from service.settings import Settings
from tests.conftest import AUTH, INGEST
from tests.served_app import serving

# A user ID, session ID and token all at once: it must appear in no captured record.
MARKER = "Mark3r-u-7f1e9c"
# Loggers that do not pass their records up to the root logger, where caplog listens (pytest
# also attaches it to those that were not propagating when the test started).
_OWN_HANDLER_LOGGERS = ("litestar", "uvicorn", "uvicorn.error", "uvicorn.access", "rq.worker")
# The test's own HTTP client logs the URLs it asks for.
_CLIENT_LOGGERS = ("httpx", "httpcore")


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG for every logger, including those that keep their records."""
    caplog.set_level(logging.DEBUG)
    saved = []
    added = []
    for name in _OWN_HANDLER_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        if caplog.handler not in logger.handlers:
            logger.addHandler(caplog.handler)
            added.append(logger)
    yield caplog
    for logger in added:
        logger.removeHandler(caplog.handler)
    for logger, level in saved:
        logger.setLevel(level)


def leaks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every captured record, rendered every way a handler could, that shows the marker."""
    found = []
    for record in caplog.records:
        if record.name.startswith(_CLIENT_LOGGERS):
            continue
        # The record's attributes include its exception (exc_info) and any extras.
        rendered = [record.getMessage(), repr(record.__dict__), caplog.handler.format(record)]
        found.extend(text for text in rendered if MARKER in text)
    return found


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[str]:
    """The app under uvicorn on a free loopback port; its base URL."""
    async with serving(settings) as url:
        yield url


async def _raise_with_the_user_id(self: SessionReader, user_id: str) -> Any:
    try:
        {}[user_id]  # the kind of error whose message is the ID itself
    except KeyError as exc:
        # As a database error reads: the statement's parameters are in the message.
        parameters = {"user_id": user_id}
        raise RuntimeError(f"SELECT ... WHERE user_id = %(user_id)s [{parameters}]") from exc


async def _stream_that_fails(
    self: SessionReader, session_id: str, window: object = None
) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"["
        raise OSError(f"blob sessions/{session_id}/chunk-0 is missing")

    return chunks()


async def test_server_errors_log_route_and_exception_type_but_no_ids(
    served: str, all_logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SessionReader, "latest_for_user", _raise_with_the_user_id)
    monkeypatch.setattr(SessionReader, "stream_events", _stream_that_fails)
    async with httpx.AsyncClient(base_url=served, headers=AUTH) as http:
        failed = await http.get(f"/api/v1/users/{MARKER}/sessions/latest?token={MARKER}")
        assert failed.status_code == 500
        assert MARKER not in failed.text
        # A failure after the first byte escapes the app: uvicorn logs it and drops the line.
        with pytest.raises(httpx.HTTPError):
            await http.get(f"/api/v1/sessions/{MARKER}/events?key={MARKER}")

    assert leaks(all_logs) == []
    text = all_logs.text
    # What an admin needs is there: route, method, status, exception types and the stack.
    assert "GET /api/v1/users/{user_id}/sessions/latest 500: unhandled RuntimeError" in text
    assert "in _raise_with_the_user_id" in text
    assert "KeyError (message withheld" in text and "direct cause" in text
    uvicorn_errors = [r for r in all_logs.records if r.name == "uvicorn.error" and r.exc_text]
    assert uvicorn_errors and "OSError (message withheld" in uvicorn_errors[0].exc_text
    assert "in chunks" in uvicorn_errors[0].exc_text  # the frame that raised, inside the group


async def test_client_errors_log_no_path_query_or_ids(
    served: str, all_logs: pytest.LogCaptureFixture
) -> None:
    async with httpx.AsyncClient(base_url=served) as http:
        statuses = [
            # A route's own 404, with and without the key; an unrouted path; a wrong method.
            (await http.get(f"/api/v1/users/{MARKER}/sessions/latest", headers=AUTH)).status_code,
            (await http.get(f"/api/v1/users/{MARKER}/sessions/latest?key={MARKER}")).status_code,
            (await http.get(f"/{MARKER}/x?token={MARKER}")).status_code,
            (await http.put(f"/api/v1/sessions/{MARKER}", headers=AUTH)).status_code,
            # A batch the service refuses, naming the marker everywhere.
            (
                await http.post(
                    f"/api/v1/ingest?session={MARKER}",
                    content=f'{{"session_id": "{MARKER}", "seq": "{MARKER}"}}',
                    headers={**INGEST, "X-Marker": MARKER},
                )
            ).status_code,
            (await http.get(f"/api/v1/sessions/{MARKER}/events", headers=AUTH)).status_code,
        ]
    assert statuses == [404, 401, 404, 405, 400, 404]
    assert leaks(all_logs) == []
    access = [r.getMessage() for r in all_logs.records if r.name == "service.access"]
    assert len(access) == len(statuses)


def failing_job(user_id: str) -> None:
    """A job whose arguments and error both hold a user ID."""
    raise LookupError(f"no tracker user for {user_id}")


def test_a_failed_job_logs_no_arguments_or_error_message(
    redis_url: str, all_logs: pytest.LogCaptureFixture
) -> None:
    redis = Redis.from_url(redis_url)
    queue = Queue("log-privacy", connection=redis)
    queue.enqueue(failing_job, MARKER)
    undo = log_redaction.install()
    try:
        # As the embedded worker runs, but at DEBUG so that every line RQ has is written.
        worker = ThreadWorker([queue], connection=redis, log_job_description=False)
        worker.work(burst=True, logging_level="DEBUG")
    finally:
        undo()
        redis.close()
    assert leaks(all_logs) == []
    failure = [r.getMessage() for r in all_logs.records if "exception raised" in r.getMessage()]
    assert failure and "LookupError (message withheld" in failure[0]
    assert "in failing_job" in failure[0]
