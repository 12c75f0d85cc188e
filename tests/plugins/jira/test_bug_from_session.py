"""A bug opened from a session, by the API and by `replaydesk issue`: once, with its evidence."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from service import IssueRequest
from service.cli.issue import issue_command
from service.settings import Settings
from tests.conftest import AUTH
from tests.job_runner import settle
from tests.plugins.jira.conftest import SITE
from tests.plugins.jira.fake_jira import FakeJira, Fault
from tests.plugins.jira.test_webhook_delivery import SESSION, deliver, issue_created
from tests.recordings import record_session


async def test_the_api_opens_one_bug_and_its_own_webhook_adds_no_comment(
    jira_client: Any, jira: FakeJira, jira_settings: Settings
) -> None:
    await record_session(jira_client, SESSION)
    url = f"/api/v1/sessions/{SESSION}/issues"
    asked = await jira_client.post(url, json={"project": "SHOP"}, headers=AUTH)
    assert asked.status_code == 202, asked.text
    await settle(jira_settings.redis_url)
    [created] = jira.created
    fields = created["fields"]
    assert fields["project"] == {"key": "SHOP"} and fields["issuetype"] == {"name": "Bug"}
    assert "payment failed" in fields["summary"]
    assert fields["description"]["content"][0]["type"] in {"heading", "paragraph"}
    job = (await jira_client.get(f"/api/v1/jobs/{asked.json()['job_id']}", headers=AUTH)).json()
    assert job["state"] == "finished", job
    key = job["result"]["ticket_id"]
    assert job["result"]["url"] == f"{SITE}/browse/{key}"
    assert [link["globalId"] for link in jira.link_posts] == [f"replaydesk:{SESSION}"]
    assert len(jira.attachments[key]) == 1

    # Jira tells the service about the new issue: it carries the report already.
    answer = await deliver(
        jira_client, issue_created(f"created-{key}", key=key, labels=tuple(fields["labels"]))
    )
    assert answer.status_code == 202 and answer.json()["job_id"] is None
    again = await jira_client.post(url, json={}, headers=AUTH)
    assert again.status_code == 200 and again.json()["ticket_id"] == key
    await settle(jira_settings.redis_url)
    assert len(jira.created) == 1 and jira.comments_on(key) == []


async def open_bug(client: Any, settings: Settings) -> dict[str, Any]:
    """Ask for the session's bug, run the jobs (retries included); the job's final state."""
    await record_session(client, SESSION)
    asked = await client.post(
        f"/api/v1/sessions/{SESSION}/issues", json={"project": "SHOP"}, headers=AUTH
    )
    assert asked.status_code == 202, asked.text
    await settle(settings.redis_url)
    job = await client.get(f"/api/v1/jobs/{asked.json()['job_id']}", headers=AUTH)
    state: dict[str, Any] = job.json()
    assert state["state"] == "finished", state
    return state


async def test_a_rate_limited_create_is_retried_without_searching_first(
    jira_client: Any, jira: FakeJira, jira_settings: Settings
) -> None:
    jira.fail_next("createIssue", Fault(429, {"Retry-After": "1"}))
    job = await open_bug(jira_client, jira_settings)
    # The 429 opened nothing, so there was nothing to search for.
    assert jira.calls.count("createIssue") == 2 and len(jira.created) == 1
    assert "searchAndReconsileIssuesUsingJql" not in jira.calls
    assert job["result"]["ticket_id"] == "SHOP-24"


async def test_a_create_whose_answer_got_lost_is_found_by_the_retry(
    jira_client: Any, jira: FakeJira, jira_settings: Settings
) -> None:
    jira.fail_next("createIssue", Fault(504, lands=True))  # opened, but the answer got lost
    job = await open_bug(jira_client, jira_settings)
    assert jira.calls.count("createIssue") == 1 and len(jira.created) == 1
    # The first attempt had nothing to look for; the retry searched and found it.
    assert jira.calls.count("searchAndReconsileIssuesUsingJql") == 1
    assert jira.calls.index("createIssue") < jira.calls.index("searchAndReconsileIssuesUsingJql")
    assert job["result"]["ticket_id"] == "SHOP-24"


async def test_the_command_line_opens_the_bug_and_prints_where(
    jira_client: Any, jira: FakeJira, jira_settings: Settings, capsys: Any
) -> None:
    await record_session(jira_client, SESSION)
    printed: list[str] = []
    request = IssueRequest(summary="Checkout fails at payment", project="SHOP")

    def run() -> int:
        return issue_command(jira_settings, "jira", SESSION, request, printed.append)

    assert await asyncio.to_thread(run) == 0
    assert "no service runs on this data dir" in capsys.readouterr().err
    [created] = jira.created
    assert created["fields"]["summary"] == "Checkout fails at payment"
    key = printed[0].split()[0]
    assert printed == [f"{key}  {SITE}/browse/{key}"]
    assert await asyncio.to_thread(run) == 0  # asked again: the same bug, nothing new
    assert printed[1] == f"{key}  {SITE}/browse/{key}  (opened before; nothing new)"
    assert len(jira.created) == 1


class _AppTransport(httpx.BaseTransport):
    """The service's HTTP for a command running in a thread: each request goes to the app
    under test, on the test's event loop."""

    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.client, self.loop = client, loop
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(f"{request.method} {request.url.path}")
        headers = {k: v for k, v in request.headers.items() if k != "host"}
        sent = self.client.request(
            request.method, request.url.raw_path.decode(), content=request.read(), headers=headers
        )
        answer = asyncio.run_coroutine_threadsafe(sent, self.loop).result(timeout=30)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


async def test_with_a_service_the_command_line_asks_it_and_follows_its_job(
    jira_client: Any, jira: FakeJira, jira_settings: Settings, capsys: Any, monkeypatch: Any
) -> None:
    await record_session(jira_client, SESSION)
    monkeypatch.setenv("REPLAYDESK_URL", "http://replaydesk.test")
    transport = _AppTransport(jira_client, asyncio.get_running_loop())
    printed: list[str] = []
    request = IssueRequest(summary="Checkout fails at payment", project="SHOP")

    def run() -> int:
        return issue_command(
            jira_settings, "jira", SESSION, request, printed.append, transport=transport
        )

    command = asyncio.ensure_future(asyncio.to_thread(run))
    while not command.done():  # the worker runs the service's job meanwhile
        await settle(jira_settings.redis_url)
        await asyncio.sleep(0.1)
    assert await command == 0
    assert "asking the service at http://replaydesk.test" in capsys.readouterr().err
    [created] = jira.created
    assert created["fields"]["summary"] == "Checkout fails at payment"
    key = printed[0].split()[0]
    assert printed == [f"{key}  {SITE}/browse/{key}"]
    assert transport.paths[0] == f"POST /api/v1/sessions/{SESSION}/issues"
    assert transport.paths[1].startswith("GET /api/v1/jobs/issue-")

    assert await asyncio.to_thread(run) == 0  # asked again: the service answers at once
    assert printed[1] == f"{key}  {SITE}/browse/{key}  (opened before; nothing new)"
    assert len(jira.created) == 1
    assert (
        await asyncio.to_thread(
            issue_command, jira_settings, "jira", "no-such-session", request, transport=transport
        )
        == 1
    )
    assert "no session 'no-such-session'" in capsys.readouterr().err


def test_a_named_service_that_does_not_answer_is_not_bypassed(
    jira_settings: Settings, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLAYDESK_URL", "http://127.0.0.1:9")  # nothing listens there
    assert issue_command(jira_settings, "jira", SESSION, IssueRequest()) == 1
    err = capsys.readouterr().err
    assert "could not reach the service at http://127.0.0.1:9 (ConnectError)" in err


async def test_the_command_line_says_what_to_fix(
    jira_client: Any, jira: FakeJira, jira_settings: Settings, capsys: Any
) -> None:
    await record_session(jira_client, SESSION)

    def run(session_id: str) -> int:
        return issue_command(jira_settings, "jira", session_id, IssueRequest())

    assert await asyncio.to_thread(run, SESSION) == 1  # no project asked for, none configured
    assert "set REPLAYDESK_JIRA_PROJECT" in capsys.readouterr().err
    assert await asyncio.to_thread(run, "no-such-session") == 1
    assert "no session 'no-such-session'" in capsys.readouterr().err
    assert jira.created == []
