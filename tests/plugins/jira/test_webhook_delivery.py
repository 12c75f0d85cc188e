"""A Jira issue opened for a recorded customer gets the report once, through a real worker."""

from __future__ import annotations

import json
import time
from typing import Any

from service import hmac_sha256
from service.settings import Settings
from tests.conftest import AUTH
from tests.job_runner import settle
from tests.plugins.jira.conftest import WEBHOOK_SECRET
from tests.plugins.jira.contract import example, links
from tests.plugins.jira.fake_jira import FakeJira, Fault
from tests.recordings import record_session

SESSION = "sess-jira-0001"


def issue_created(
    identifier: str = "b7e1c0de-0001",
    secret: str = WEBHOOK_SECRET,
    key: str = "SHOP-12",
    labels: tuple[str, ...] = ("replaydesk-user:u42",),
) -> Any:
    """The saved `jira:issue_created` delivery for SHOP-12, labelled with customer u42, signed.

    The issue was opened a minute into the recorded session (BASE_TS is 2026-09-21T14:13:20Z).
    """
    payload = example("webhook-jira-issue_created.composed.body.json")
    payload["timestamp"] = int(time.time() * 1000)
    payload["issue"].update(key=key)
    payload["issue"]["fields"].update(created="2026-09-21T14:14:20.000+0000", labels=list(labels))
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": f"sha256={hmac_sha256(secret, body)}",
        "X-Atlassian-Webhook-Identifier": identifier,
        "X-Atlassian-Webhook-Flow": "Primary",
    }
    return body, headers


async def deliver(client: Any, delivery: tuple[bytes, dict[str, str]]) -> Any:
    body, headers = delivery
    return await client.post("/webhooks/jira", content=body, headers=headers)


def assert_reported_once(jira: FakeJira) -> dict[str, Any]:
    (comment,) = jira.comments_on("SHOP-12")
    assert f"/replay/{SESSION}" in links(comment["body"])[0]
    assert {post["globalId"] for post in jira.link_posts} == {f"replaydesk:{SESSION}"}
    assert len(jira.remote_links["SHOP-12"]) == 1
    (log,) = jira.attachments["SHOP-12"]
    assert log["filename"] == f"replaydesk-{SESSION}-log.txt"
    return comment


async def test_an_issue_for_a_recorded_customer_gets_the_report(
    jira_client: Any, jira: FakeJira, jira_settings: Settings
) -> None:
    await record_session(jira_client, SESSION)
    accepted = await deliver(jira_client, issue_created())
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["session_id"] == SESSION
    job_id = accepted.json()["job_id"]

    await settle(jira_settings.redis_url)

    comment = assert_reported_once(jira)
    assert len(jira.link_posts) == 1
    state = (await jira_client.get(f"/api/v1/jobs/{job_id}", headers=AUTH)).json()
    assert state["state"] == "finished", state
    assert state["result"]["remote"]["remote_id"] == comment["id"]
    assert state["result"]["remote"]["url"].endswith(
        f"/browse/SHOP-12?focusedCommentId={comment['id']}"
    )


async def test_a_rate_limited_comment_is_written_once_after_the_wait(
    jira_client: Any, jira: FakeJira, jira_settings: Settings
) -> None:
    await record_session(jira_client, SESSION)
    jira.fail_next("addComment", Fault(429, {"Retry-After": "1"}))
    assert (await deliver(jira_client, issue_created())).status_code == 202

    await settle(jira_settings.redis_url)

    assert_reported_once(jira)
    # One link upsert per attempt. A 429 wrote nothing: the retry did not look for a comment.
    assert jira.calls.count("createOrUpdateRemoteIssueLink") == 2
    assert jira.calls.count("addComment") == 2 and "getComments" not in jira.calls


async def test_a_comment_whose_answer_got_lost_is_found_by_the_retry_not_written_again(
    jira_client: Any, jira: FakeJira, jira_settings: Settings
) -> None:
    await record_session(jira_client, SESSION)
    jira.fail_next("addComment", Fault(502, lands=True))  # written, but the answer got lost
    assert (await deliver(jira_client, issue_created())).status_code == 202

    await settle(jira_settings.redis_url)

    assert_reported_once(jira)
    assert jira.calls.count("addComment") == 1 and "getComments" in jira.calls


async def test_the_same_delivery_twice_writes_once(
    jira_client: Any, jira: FakeJira, jira_settings: Settings
) -> None:
    await record_session(jira_client, SESSION)
    delivery = issue_created()
    first = await deliver(jira_client, delivery)
    again = await deliver(jira_client, delivery)  # Jira retries with the same identifier
    assert (first.status_code, again.status_code) == (202, 202)

    await settle(jira_settings.redis_url)
    assert (await deliver(jira_client, delivery)).status_code == 202
    await settle(jira_settings.redis_url)

    assert_reported_once(jira)
    assert len(jira.link_posts) == 1


async def test_a_badly_signed_delivery_is_refused_and_jira_never_called(
    jira_client: Any, jira: FakeJira, jira_settings: Settings
) -> None:
    await record_session(jira_client, SESSION)
    forged = await deliver(jira_client, issue_created(secret="guessed"))
    assert forged.status_code == 401
    assert forged.headers["content-type"].startswith("application/problem+json")

    await settle(jira_settings.redis_url)
    assert jira.calls == []
