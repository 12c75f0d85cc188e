"""The plugin's writes to Jira, checked against Jira's spec: comments, links, files, new bugs."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest

import plugins.jira as plugin
from service import (
    AttachResult,
    IssueRequest,
    MissingRecording,
    PermanentError,
    PluginSettings,
    ReplayReport,
    ReportFile,
    RetryableError,
    TicketRef,
)
from service.plugin_testing import sample_report
from tests.plugins.jira.conftest import API_TOKEN, SITE, plugin_settings
from tests.plugins.jira.contract import links
from tests.plugins.jira.fake_jira import FakeJira, Fault

TICKET = TicketRef(provider="jira", ticket_id="SHOP-12")
MARKER = "replaydesk-report-abc123"
LOG = ReportFile(
    filename="replaydesk-sess-sample-0001-log.txt",
    content_type="text/plain; charset=utf-8",
    content=b"   0:04 09:30:04.800  console.error  TypeError: payment failed\n",
)


def report(**changes: Any) -> ReplayReport:
    return msgspec.structs.replace(sample_report(marker=MARKER), **{"log_file": LOG, **changes})


def attach(settings: PluginSettings | None = None, **changes: Any) -> AttachResult:
    return plugin.replaydesk_attach_report(TICKET, report(**changes), settings or plugin_settings())


def test_attach_links_the_replay_attaches_the_log_then_comments(jira: FakeJira) -> None:
    result = attach()

    assert jira.calls == [
        "createOrUpdateRemoteIssueLink",
        "getIssue",
        "addAttachment",
        "addComment",
    ]
    (comment,) = jira.comments_on("SHOP-12")
    assert result == AttachResult(
        remote_id=comment["id"],
        kind="comment",
        url=f"{SITE}/browse/SHOP-12?focusedCommentId={comment['id']}",
    )
    assert links(comment["body"])[:3] == [
        report().replay_url,
        report().first_error_url,
        report().whole_session_url,
    ]
    (link,) = jira.remote_links["SHOP-12"].values()
    assert link["globalId"] == "replaydesk:sess-sample-0001"
    assert link["application"] == {"type": "com.replaydesk", "name": "ReplayDesk"}
    assert link["object"]["url"] == report().replay_url
    assert link["object"]["title"] == "Replay of session sess-sample-0001"
    assert link["object"]["summary"].startswith("user u42, started 2026-09-21 09:30 UTC")
    ((part,),) = jira.uploads
    assert (part.name, part.filename, part.content) == ("file", LOG.filename, LOG.content)
    assert part.content_type == "text/plain"


def test_a_second_attach_updates_the_same_link_and_uploads_no_second_log(
    jira: FakeJira,
) -> None:
    attach()
    attach()
    assert [post["globalId"] for post in jira.link_posts] == ["replaydesk:sess-sample-0001"] * 2
    assert len(jira.remote_links["SHOP-12"]) == 1
    assert len(jira.attachments["SHOP-12"]) == 1


def test_a_session_that_logged_nothing_attaches_no_file(jira: FakeJira) -> None:
    attach(log_file=None)
    assert "getIssue" not in jira.calls and jira.uploads == []


def test_api_token_and_bearer_authorization(jira: FakeJira, caplog: Any) -> None:
    # The stand-in Jira answers 401 unless the header is exactly the basic one.
    attach()
    jira.authorization = "Bearer oauth-token-not-real"
    attach(plugin_settings(OAUTH_TOKEN="oauth-token-not-real"))
    assert len(jira.comments_on("SHOP-12")) == 2
    with pytest.raises(PermanentError) as refused:
        attach(plugin_settings(OAUTH_TOKEN="expired-token"))
    assert refused.value.status == 401
    assert "expired-token" not in str(refused.value) and API_TOKEN not in caplog.text


def test_jira_refusing_the_link_or_the_file_still_leaves_the_comment(
    jira: FakeJira, caplog: Any
) -> None:
    jira.fail_next("createOrUpdateRemoteIssueLink", Fault(403))
    jira.fail_next("addAttachment", Fault(413))
    with caplog.at_level(logging.WARNING, logger="plugins.jira"):
        attach()
    assert len(jira.comments_on("SHOP-12")) == 1
    assert "refused the replay link on SHOP-12" in caplog.text
    assert "refused the log file on SHOP-12" in caplog.text


@pytest.mark.parametrize("operation", ["createOrUpdateRemoteIssueLink", "addComment"])
def test_rate_limits_and_outages_are_retryable(jira: FakeJira, operation: str) -> None:
    jira.fail_next(operation, Fault(429, {"Retry-After": "7"}), Fault(503))
    with pytest.raises(RetryableError) as limited:
        attach()
    assert (limited.value.status, limited.value.retry_after) == (429, 7.0)
    with pytest.raises(RetryableError) as unavailable:
        attach()
    assert unavailable.value.status == 503
    assert jira.comments_on("SHOP-12") == []


@pytest.mark.parametrize("status", [400, 401, 404])
def test_answers_that_will_not_change_are_permanent(jira: FakeJira, status: int) -> None:
    jira.fail_next("addComment", Fault(status))
    with pytest.raises(PermanentError) as refused:
        attach()
    assert refused.value.status == status


def test_a_missing_issue_stops_before_anything_is_written(jira: FakeJira) -> None:
    jira.missing.add("SHOP-12")
    with pytest.raises(PermanentError) as missing:
        attach()
    assert missing.value.status == 404
    assert jira.calls == ["createOrUpdateRemoteIssueLink"]


def test_a_comment_whose_answer_got_lost_is_found_by_its_marker(jira: FakeJira) -> None:
    jira.page_size = 2  # Jira answers in pages; the report is not on the first one
    for number in range(3):
        plugin.replaydesk_attach_no_recording(
            TICKET,
            MissingRecording(
                user_id=None, reason="nobody", ticket_created_at=None, marker=f"other-{number}"
            ),
            plugin_settings(),
        )
    jira.fail_next("addComment", Fault(502, lands=True))
    with pytest.raises(RetryableError):
        attach()
    for number in range(3):
        plugin.replaydesk_attach_no_recording(
            TICKET,
            MissingRecording(
                user_id=None, reason="nobody", ticket_created_at=None, marker=f"later-{number}"
            ),
            plugin_settings(),
        )

    found = plugin.replaydesk_find_attachment(TICKET, MARKER, plugin_settings())
    comment = next(c for c in jira.comments_on("SHOP-12") if MARKER in str(c["body"]))
    assert found == AttachResult(
        remote_id=comment["id"], url=f"{SITE}/browse/SHOP-12?focusedCommentId={comment['id']}"
    )
    assert jira.calls.count("getComments") == 2  # newest first: found on the second page
    assert (
        plugin.replaydesk_find_attachment(TICKET, "replaydesk-report-x", plugin_settings()) is None
    )
    assert jira.calls.count("getComments") == 2 + 4  # every page of the seven comments


def test_the_no_recording_note_is_a_short_comment(jira: FakeJira) -> None:
    notice = MissingRecording(
        user_id="u42",
        reason="no session of user 'u42' before the ticket",
        ticket_created_at=None,
        marker="replaydesk-report-none1",
    )
    result = plugin.replaydesk_attach_no_recording(TICKET, notice, plugin_settings())
    (comment,) = jira.comments_on("SHOP-12")
    assert result.remote_id == comment["id"] and result.kind == "comment"
    assert jira.calls == ["addComment"]


def create(request: IssueRequest, settings: PluginSettings | None = None, **changes: Any) -> Any:
    return plugin.replaydesk_create_issue(request, report(**changes), settings or plugin_settings())


def test_create_issue_files_a_bug_carrying_the_report(jira: FakeJira) -> None:
    created = create(IssueRequest(marker="replaydesk-issue-0f3a"), plugin_settings(PROJECT="SHOP"))

    assert created.ticket_id == "SHOP-24" and created.url == f"{SITE}/browse/SHOP-24"
    ((body),) = jira.created
    fields = body["fields"]
    assert fields["project"] == {"key": "SHOP"} and fields["issuetype"] == {"name": "Bug"}
    assert fields["summary"] == "TypeError: payment failed"
    assert fields["labels"] == ["replaydesk-user:u42", "replaydesk-issue-0f3a"]
    assert fields["description"]["content"][1]["type"] == "orderedList"
    assert jira.calls == [
        "searchAndReconsileIssuesUsingJql",
        "createIssue",
        "createOrUpdateRemoteIssueLink",
        "getIssue",
        "addAttachment",
    ]
    assert "SHOP-24" in jira.remote_links and len(jira.attachments["SHOP-24"]) == 1


def test_a_retry_after_a_lost_answer_finds_the_bug_instead_of_opening_another(
    jira: FakeJira,
) -> None:
    request = IssueRequest(marker='replaydesk-issue-0f3a "quoted"')
    jira.fail_next("createIssue", Fault(504, lands=True))  # created, but the answer got lost
    with pytest.raises(RetryableError):
        create(request, plugin_settings(PROJECT="SHOP"))
    again = create(request, plugin_settings(PROJECT="SHOP"))
    assert again.ticket_id == "SHOP-24" and len(jira.created) == 1
    assert jira.calls.count("createIssue") == 1
    # The link and the log file, never added by the first attempt, are there now.
    assert "SHOP-24" in jira.remote_links and len(jira.attachments["SHOP-24"]) == 1


def test_a_first_attempt_opens_the_bug_without_searching(jira: FakeJira) -> None:
    request = IssueRequest(marker="replaydesk-issue-0f3a", may_exist=False)
    assert create(request, plugin_settings(PROJECT="SHOP")).ticket_id == "SHOP-24"
    assert jira.calls[0] == "createIssue"


def test_errors_before_the_comment_say_no_comment_was_written(jira: FakeJira) -> None:
    jira.fail_next("createOrUpdateRemoteIssueLink", Fault(500))  # a 500 may follow a write
    with pytest.raises(RetryableError) as link:
        attach()
    assert link.value.may_have_written is False  # but not of the comment a retry looks for
    jira.fail_next("addComment", Fault(500))
    with pytest.raises(RetryableError) as comment:
        attach()
    assert comment.value.may_have_written is True


def test_create_issue_takes_what_the_request_asks_for(jira: FakeJira) -> None:
    request = IssueRequest(
        summary="Checkout\nbroken  for " + "x" * 300, project="OPS", issue_type="Task"
    )
    create(request, plugin_settings(PROJECT="SHOP"), user_id=None)
    fields = jira.created[0]["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Task"}
    assert fields["summary"].startswith("Checkout broken for xxx")
    assert len(fields["summary"]) == 255 and "\n" not in fields["summary"]
    assert fields["labels"] == []


def test_without_errors_the_summary_is_the_headline(jira: FakeJira) -> None:
    create(IssueRequest(project="SHOP"), console_errors=[])
    assert jira.created[0]["fields"]["summary"].startswith("Session replay: user u42, started")


def test_create_issue_without_a_project_names_the_setting(jira: FakeJira) -> None:
    with pytest.raises(PermanentError, match="REPLAYDESK_JIRA_PROJECT"):
        create(IssueRequest())
    assert jira.calls == []


def test_an_opened_issue_is_returned_even_when_its_extras_fail(jira: FakeJira, caplog: Any) -> None:
    # Raising now would have the job open a second issue.
    jira.fail_next("createOrUpdateRemoteIssueLink", Fault(503))
    created = create(IssueRequest(project="SHOP"))
    assert created.ticket_id == "SHOP-24"
    assert "opened SHOP-24, but without its replay link or log file" in caplog.text


def test_a_refused_issue_is_a_permanent_error(jira: FakeJira) -> None:
    jira.fail_next("createIssue", Fault(400))
    with pytest.raises(PermanentError):
        create(IssueRequest(project="SHOP"))
    assert jira.remote_links == {}


@pytest.mark.parametrize("ticket_id", ["PROJ-123", "ab_1-7", "10023"])
def test_a_key_or_an_id_can_name_a_jira_issue(ticket_id: str) -> None:
    assert (
        plugin.replaydesk_check_ticket_id(TicketRef(provider="jira", ticket_id=ticket_id)) is None
    )


@pytest.mark.parametrize("ticket_id", ["PROJ", "PROJ-", "PROJ-0", "-12", "PROJ 12", "PROJ-1/x"])
def test_anything_else_is_no_jira_issue(ticket_id: str) -> None:
    reason = plugin.replaydesk_check_ticket_id(TicketRef(provider="jira", ticket_id=ticket_id))
    assert reason is not None and "PROJ-123" in reason
