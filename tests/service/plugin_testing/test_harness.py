"""The plugin harness runs the real attach pipeline in-process: app, SQLite, Redis queue, jobs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import respx

from plugins import zendesk
from service import (
    AttachResult,
    PluginSettings,
    ReplayReport,
    SettingSpec,
    TicketEvent,
    TicketProvider,
    TicketRef,
    WebhookRequest,
    hookimpl,
    rate_limit_exhausted,
    remote_client,
    remote_request,
)
from service.plugin_testing import FakeTracker, Fault, PluginHarness, RecordedRequest, route
from tests.plugins.zendesk.fake_zendesk import (
    API_TOKEN,
    EMAIL,
    WEBHOOK_SECRET,
    ZENDESK_URL,
    FakeZendesk,
    basic_authorization,
    signed_headers,
)

COMMENTS = "/repos/acme/shop/issues/{number}/comments"


class FakeGitHub(FakeTracker):
    """GitHub's issue comments, enough for one plugin."""

    def __init__(self) -> None:
        super().__init__()
        self.comments: dict[str, list[dict[str, Any]]] = {}

    @route("POST", COMMENTS)
    def comment(self, request: RecordedRequest, number: str) -> tuple[int, Any]:
        comments = self.comments.setdefault(number, [])
        comments.append({"id": len(comments) + 1, "body": request.json["body"]})
        return 201, comments[-1]

    @route("GET", COMMENTS)
    def listing(self, request: RecordedRequest, number: str) -> tuple[int, Any]:
        return 200, self.comments.get(number, [])


class GitHubIssues:
    """A GitHub Issues plugin as its author would write it, with or without the classifier."""

    def __init__(self, classify: bool) -> None:
        self.classify = rate_limit_exhausted if classify else None

    @hookimpl
    def replaydesk_plugin_settings(self) -> list[SettingSpec]:
        return [SettingSpec(name="URL", description="API base URL", required=True)]

    @hookimpl
    def replaydesk_ticket_provider(self) -> TicketProvider:
        return TicketProvider(name="github", title="GitHub Issues")

    @hookimpl
    def replaydesk_attach_report(
        self, ticket: TicketRef, report: ReplayReport, settings: PluginSettings
    ) -> AttachResult:
        path = COMMENTS.format(number=ticket.ticket_id)
        with remote_client(settings.require("URL")) as client:
            answer = remote_request(
                client,
                "POST",
                path,
                json={"body": f"{report.replay_url}\n<!-- {report.marker} -->"},
                classify=self.classify,
            )
        return AttachResult(remote_id=str(answer.json()["id"]), kind="comment")


def github_rate_limited(reset_in: int) -> Fault:
    """GitHub's answer to an exhausted quota: 403, nothing remaining, the reset in Unix time."""
    return Fault(
        403,
        headers={
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + reset_in),
        },
    )


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


def test_githubs_403_rate_limit_is_retried_after_the_reset_then_written_once(
    github: FakeGitHub, redis_url: str
) -> None:
    github.fail_next(github_rate_limited(reset_in=120), method="POST")
    with PluginHarness(GitHubIssues(classify=True), {"URL": github.url}, redis_url=redis_url) as rd:
        rd.record_session("u42")
        accepted = rd.attach("7", user_id="u42")
        assert accepted.status_code == 202, accepted.text
        (job,) = rd.run_jobs()

    assert (job.function, job.status, job.attempts) == ("attach_report", "finished", 2)
    (wait,) = job.waits
    assert 118 <= wait <= 121  # until X-RateLimit-Reset, not the 2 s backoff
    (comment,) = github.comments["7"]
    assert job.result["remote"]["remote_id"] == str(comment["id"])
    assert len(github.requests_to("POST", COMMENTS)) == 2


def test_without_the_classifier_githubs_rate_limit_fails_the_job_for_good(
    github: FakeGitHub, redis_url: str
) -> None:
    github.fail_next(github_rate_limited(reset_in=120), method="POST")
    with PluginHarness(
        GitHubIssues(classify=False), {"URL": github.url}, redis_url=redis_url
    ) as rd:
        rd.record_session("u42")
        job_id = rd.attach("7", user_id="u42").json()["job_id"]
        (job,) = rd.run_jobs()
        assert rd.job(job_id)["state"] == "failed"
    assert (job.status, job.attempts, job.waits) == ("failed", 1, [])
    assert job.error is not None and "PermanentError" in job.error and "403" in job.error
    assert github.comments == {}


class Silent:
    """Hooks that answer None: an attach that wrote nothing, a webhook that needs nothing."""

    @hookimpl
    def replaydesk_ticket_provider(self) -> TicketProvider:
        return TicketProvider(name="silent", title="Silent")

    @hookimpl
    def replaydesk_attach_report(self) -> None:
        return None

    @hookimpl
    def replaydesk_parse_webhook(self, request: WebhookRequest) -> TicketEvent | None:
        if request.body == b"ticket":
            return TicketEvent(ticket=TicketRef(provider="silent", ticket_id="1"), user_id="u42")
        return None


def test_none_from_attach_report_fails_the_job_as_permanent_and_none_from_a_webhook_is_202(
    redis_url: str,
) -> None:
    with PluginHarness(Silent(), redis_url=redis_url) as rd:
        rd.record_session("u42")
        ignored = rd.webhook(b"status changed")
        assert ignored.status_code == 202
        assert ignored.json()["job_id"] is None
        assert rd.run_jobs() == []
        accepted = rd.webhook(b"ticket")
        assert accepted.status_code == 202 and accepted.json()["job_id"]
        (job,) = rd.run_jobs()
    assert (job.status, job.attempts) == ("failed", 1)
    assert job.error is not None and "wrote nothing" in job.error


def test_the_zendesk_plugin_writes_one_note_under_a_429_and_a_duplicate_webhook(
    redis_url: str,
) -> None:
    settings = {"URL": ZENDESK_URL, "WEBHOOK_SECRET": WEBHOOK_SECRET, "EMAIL": EMAIL}
    trigger = json.dumps(
        {"ticket_id": "35436", "requester_external_id": "u42", "requester_id": "20978392"}
    ).encode()
    with (
        respx.mock(base_url=ZENDESK_URL, assert_all_called=False) as router,
        PluginHarness(zendesk, {**settings, "API_TOKEN": API_TOKEN}, redis_url=redis_url) as rd,
    ):
        fake = FakeZendesk(router, basic_authorization(EMAIL, API_TOKEN))
        import httpx

        fake.put_faults.append(httpx.Response(429, headers={"Retry-After": "20"}))
        session = rd.record_session("u42")
        first = rd.webhook(trigger, signed_headers(trigger))
        again = rd.webhook(trigger, signed_headers(trigger))  # Zendesk delivers it again
        assert first.json()["session_id"] == session
        assert again.json()["job_id"] == first.json()["job_id"]
        (job,) = rd.run_jobs()
    assert (job.status, job.attempts, job.waits) == ("finished", 2, [20])
    (note,) = fake.notes["35436"]
    assert f"/replay/{session}" in note["html_body"]
    assert fake.violations == []


def test_the_embedded_redis_and_everything_else_is_gone_afterwards(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REPLAYDESK_REDIS_URL", raising=False)
    threads = set(threading.enumerate())
    with PluginHarness(GitHubIssues(classify=True), {"URL": github.url}) as rd:
        folder = rd.service_settings.data_dir
        assert rd.service_settings.redis_url and rd.service_settings.redis_url.startswith("unix:")
        rd.record_session("u42")
        rd.attach("8", user_id="u42")
        (job,) = rd.run_jobs()
        assert job.status == "finished"
        redis_process = rd._embedded._process if rd._embedded else None
    assert not folder.exists()
    assert redis_process is not None and redis_process.poll() is not None
    assert set(threading.enumerate()) <= threads
    assert len(github.comments["8"]) == 1


def test_a_redis_database_in_use_is_refused(redis_url: str) -> None:
    from redis import Redis

    with Redis.from_url(redis_url) as redis:
        redis.set("someone-elses", "data")
    with pytest.raises(RuntimeError, match="not empty"):
        PluginHarness(Silent(), redis_url=redis_url).__enter__()
    with Redis.from_url(redis_url) as redis:
        assert redis.get("someone-elses") == b"data"
