"""Reports as ADF: valid against Atlassian's strict schema, whatever the recorded page logged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from plugins.jira.adf import (
    issue_description,
    no_recording_comment,
    plain_text,
    report_comment,
)
from service import (
    ErrorGroup,
    MissingRecording,
    ReplayReport,
    ReproStep,
    RequestFailure,
    Struggle,
)
from service.plugin_testing import sample_report
from service.report.repro_steps import trim_steps
from tests.plugins.environment import with_environment
from tests.plugins.jira.contract import adf_violations, example, links, nodes

AT = datetime(2026, 9, 21, 9, 30, 5, tzinfo=UTC)
SCRIPT = "<script>alert(1)</script>"
ADF_LOOKALIKE = (
    '{"type":"text","text":"x","marks":[{"type":"link","attrs":{"href":"https://evil"}}]}'
)


def hostile_report(**changes: Any) -> ReplayReport:
    """A report whose page logged markup, empty strings and odd URLs everywhere."""
    report = sample_report()
    error = ErrorGroup(
        message=f"{SCRIPT}\n{ADF_LOOKALIKE}",
        level="error",
        stack=["", "at x (javascript:void(0):1:1)"],
        count=2,
        first_at=AT,
        first_offset_ms=5000,
    )
    empty = ErrorGroup(message="", level="", stack=[], count=1, first_at=AT, first_offset_ms=5200)
    failed = RequestFailure(
        method="",
        url="",
        status=0,
        duration_ms=None,
        error="",
        count=1,
        first_at=AT,
        first_offset_ms=5100,
    )
    struggle = Struggle(kind="dead_click", target="", count=2, at=AT, offset_ms=5300)
    step = ReproStep(at=AT, offset_ms=5000, kind="click", text="")
    values: dict[str, Any] = {
        "console_errors": [error, empty],
        "failed_requests": [failed],
        "struggles": [struggle],
        "steps": [*report.steps, step],
        **changes,
    }
    return msgspec.structs.replace(report, **values)


def test_the_comment_validates_and_holds_every_part_of_the_report() -> None:
    report = sample_report(marker="replaydesk-report-abc123")
    comment = report_comment(report)
    assert adf_violations(comment) == []

    kinds = [node["type"] for node in comment["content"]]
    assert kinds[0] == "heading"
    assert {"orderedList", "codeBlock", "table", "bulletList"} <= set(kinds)
    # The replay shows the minutes before the ticket; the first error and the whole session
    # are offered too; and the newest session of another user who hit the console error
    # (nobody else got the 500).
    elsewhere = report.console_errors[0].seen_elsewhere
    assert elsewhere is not None
    assert links(comment) == [
        report.replay_url,
        report.first_error_url,
        report.whole_session_url,
        elsewhere.newest_session_url,
    ]
    assert (
        "Watch the replay before the ticket (0:01\N{EN DASH}0:05), from the first error"
        " or the whole session (valid until" in plain_text(comment)
    )
    text = plain_text(comment)
    assert "valid until 2026-10-21 09:30 UTC" in text
    assert "user u42" in text and "1 console error" in text
    (steps,) = [node for node in comment["content"] if node["type"] == "orderedList"]
    assert "Clicked 'Place order' ×3 (0:04)" in plain_text(steps)
    assert (
        "This error hit 14 other users in the last 7 days (first seen 2026-09-16, release 4.1.0):"
        " newest other session" in text
    )
    assert "This failure" not in text
    (code,) = [node for node in comment["content"] if node["type"] == "codeBlock"]
    assert plain_text(code) == (
        "TypeError: payment failed\nat pay (https://shop.example/app.js:10:5)"
    )
    (table,) = [node for node in comment["content"] if node["type"] == "table"]
    header, row = table["content"]
    assert [cell["type"] for cell in header["content"]] == ["tableHeader"] * 5
    assert [plain_text(cell) for cell in row["content"]] == [
        "POST",
        "https://shop.example/api/pay",
        "500",
        "88 ms",
        "1",
    ]
    assert comment["content"][-1] == {
        "type": "paragraph",
        "content": [
            {
                "type": "text",
                "text": "ReplayDesk replaydesk-report-abc123",
                "marks": [{"type": "em"}],
            }
        ],
    }


def test_without_errors_the_replay_link_starts_at_the_beginning() -> None:
    report = msgspec.structs.replace(
        sample_report(ticket_window=False), first_error_url=None, console_errors=[]
    )
    comment = report_comment(report)
    assert adf_violations(comment) == []
    assert links(comment) == [report.replay_url]
    assert "codeBlock" not in [node["type"] for node in comment["content"]]


def test_a_link_to_all_of_the_session_opens_at_the_first_error_or_from_the_start() -> None:
    report = sample_report(ticket_window=False)
    comment = report_comment(report)
    assert adf_violations(comment) == []
    assert links(comment)[:2] == [report.first_error_url, report.replay_url]
    assert "from the first error or from the start" in plain_text(comment)


def test_a_windowed_link_without_errors_offers_the_whole_session() -> None:
    report = msgspec.structs.replace(sample_report(), first_error_url=None, console_errors=[])
    comment = report_comment(report)
    assert adf_violations(comment) == []
    assert links(comment) == [report.replay_url, report.whole_session_url]


def test_the_issue_description_starts_with_the_steps_to_reproduce() -> None:
    description = issue_description(sample_report())
    assert adf_violations(description) == []
    first, second = description["content"][:2]
    assert plain_text(first) == "Steps to reproduce"
    assert second["type"] == "orderedList"
    assert "Session replay" in plain_text(description)


def test_page_text_stays_literal_text_and_empty_strings_make_no_empty_nodes() -> None:
    comment = report_comment(hostile_report())
    assert adf_violations(comment) == []
    code = [node for node in comment["content"] if node["type"] == "codeBlock"]
    assert plain_text(code[0]) == f"{SCRIPT}\n{ADF_LOOKALIKE}\n\nat x (javascript:void(0):1:1)"
    assert all("marks" not in text for block in code for text in block["content"])
    assert plain_text(code[1]) == "\N{EN DASH}"
    texts = [node for node in nodes(comment) if node["type"] == "text"]
    assert all(node["text"] for node in texts)
    # Markup in the page's text never turned into nodes or links of its own.
    sample = sample_report()
    assert links(comment) == [sample.replay_url, sample.first_error_url, sample.whole_session_url]
    assert "no response" in plain_text(comment) and "Dead clicks on an element" in plain_text(
        comment
    )


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https://replay.example/a b",
        "//replay.example/x",
    ],
)
def test_only_http_urls_become_links(url: str) -> None:
    report = hostile_report(replay_url=url, first_error_url=url, whole_session_url=url)
    for document in (report_comment(report), issue_description(report)):
        assert adf_violations(document) == []
        assert links(document) == []
        assert "Watch the replay" in plain_text(document)


def test_long_console_output_is_cut_to_what_jira_takes() -> None:
    huge = msgspec.structs.replace(
        sample_report().console_errors[0], message="x" * 100_000, stack=["y" * 100_000] * 8
    )
    report = msgspec.structs.replace(sample_report(), console_errors=[huge] * 5)
    comment = report_comment(report)
    assert adf_violations(comment) == []
    assert len(msgspec.json.encode(comment)) < 32_767


def test_the_no_recording_comment_names_the_reason_and_carries_the_marker() -> None:
    notice = MissingRecording(
        user_id="u42",
        reason="no session of user 'u42' before the ticket",
        ticket_created_at=AT,
        marker="replaydesk-report-none1",
    )
    comment = no_recording_comment(notice)
    assert adf_violations(comment) == []
    text = plain_text(comment)
    assert "No session replay: no session of user 'u42' before the ticket." in text
    assert "replaydesk-report-none1" in text


def test_the_validator_is_wired_to_the_strict_schema() -> None:
    # The vendor-shaped sample passes; the mistakes the builders avoid do not.
    assert adf_violations(example("adf-comment-body.authored.json")["body"]) == []
    empty_text = {"type": "paragraph", "content": [{"type": "text", "text": ""}]}
    marked_code = {
        "type": "codeBlock",
        "content": [{"type": "text", "text": "x", "marks": [{"type": "strong"}]}],
    }
    unknown_key = {"type": "paragraph", "content": [], "colour": "red"}
    for block in (empty_text, marked_code, unknown_key):
        assert adf_violations({"version": 1, "type": "doc", "content": [block]}) != []
    assert adf_violations({"type": "doc", "content": []}) != []  # no version


def test_left_out_steps_are_named_where_they_were_left_out_and_numbers_carry_on() -> None:
    steps = [
        ReproStep(at=AT, offset_ms=n * 1000, kind="click", text=f"Clicked 'b{n}'")
        for n in range(1, 31)
    ]
    kept, omitted = trim_steps(steps, 12)
    comment = report_comment(
        msgspec.structs.replace(sample_report(), steps=kept, omitted_steps=omitted)
    )
    assert adf_violations(comment) == []
    lists = [n for n in nodes(comment) if n["type"] == "orderedList"]
    assert [(n["attrs"]["order"], len(n["content"])) for n in lists] == [(1, 3), (23, 8)]
    texts = plain_text(comment)
    assert texts.index("b3") < texts.index("(19 more steps are in the replay)") < texts.index("b23")


def test_the_comment_says_where_the_session_was_recorded_and_on_which_page_errors_came() -> None:
    comment = report_comment(with_environment(sample_report()))
    assert adf_violations(comment) == []
    texts = plain_text(comment)
    assert "Environment: Chrome 131 on Windows 10 (desktop), viewport 1280×720" in texts
    assert "Error at 0:04 on https://shop.example/cart" in texts


def test_a_failed_request_others_hit_says_so_under_the_table() -> None:
    report = sample_report()
    elsewhere = report.console_errors[0].seen_elsewhere
    assert elsewhere is not None
    seen = msgspec.structs.replace(elsewhere, other_users=1, first_release=None)
    failed = msgspec.structs.replace(report.failed_requests[0], seen_elsewhere=seen)
    quiet = msgspec.structs.replace(report.console_errors[0], seen_elsewhere=None)
    comment = report_comment(
        msgspec.structs.replace(report, failed_requests=[failed], console_errors=[quiet])
    )
    assert adf_violations(comment) == []
    text = plain_text(comment)
    assert (
        "POST https://shop.example/api/pay: This failure hit 1 other user in the last 7 days"
        " (first seen 2026-09-16): newest other session" in text
    )
    assert "This error" not in text
