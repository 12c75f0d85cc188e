"""The notes' HTML: what an agent sees, and that nothing from a recording becomes live markup."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from html.parser import HTMLParser

import msgspec

from plugins.zendesk.note import no_recording_note, report_note
from service import MissingRecording, ReplayReport, ReportFile, ReproStep
from service.plugin_testing import sample_report
from service.report.repro_steps import trim_steps
from tests.plugins.environment import with_environment

AT = datetime(2026, 9, 21, 9, 30, 5, tzinfo=UTC)

HOSTILE = "<img src=x onerror=alert(1)>"
SAFE_TAGS = {"p", "strong", "a", "ol", "ul", "li", "code", "pre", "small"}


class Markup(HTMLParser):
    """The tags, links and visible text of a note, as a browser would read them."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.attributes: list[str] = []
        self.text = ""
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            self.attributes.append(name)
            if name == "href" and value is not None:
                self.hrefs.append(value)

    def handle_data(self, data: str) -> None:
        self.text += data


def hostile_report() -> ReplayReport:
    report = sample_report(user_id="<u>jane</u>")
    error = msgspec.structs.replace(
        report.console_errors[0], message=f"{HOSTILE}\nsecond line", stack=["at <evil> (x.js:1)"]
    )
    failed = msgspec.structs.replace(report.failed_requests[0], url="javascript:alert(1)")
    struggle = msgspec.structs.replace(report.struggles[0], target='"><script>alert(1)</script>')
    step = msgspec.structs.replace(report.steps[0], text="Typed <b>bold</b> & more")
    return msgspec.structs.replace(
        report,
        first_error_url="javascript:alert(2)",
        console_errors=[error],
        failed_requests=[failed],
        struggles=[struggle],
        steps=[step, *report.steps[1:]],
    )


def test_nothing_from_the_recording_becomes_markup() -> None:
    note = report_note(hostile_report())
    markup = Markup(note)
    assert set(markup.tags) <= SAFE_TAGS
    assert set(markup.attributes) <= {"href"}
    assert all(href.startswith("https://") for href in markup.hrefs)
    assert "<img" not in note and "<script" not in note and "<b>" not in note
    # ... yet every piece of it is there, as text.
    for text in (HOSTILE, "at <evil> (x.js:1)", '"><script>alert(1)</script>', "<u>jane</u>"):
        assert text in markup.text
    assert "Typed <b>bold</b> & more" in markup.text
    assert "javascript:alert(1)" in markup.text and "javascript:alert(2)" in markup.text


def test_the_first_link_opens_the_replay_at_the_first_error() -> None:
    report = sample_report(ticket_window=False)
    assert report.first_error_url
    markup = Markup(report_note(report))
    elsewhere = report.console_errors[0].seen_elsewhere
    assert elsewhere is not None
    assert markup.hrefs == [
        report.first_error_url,
        report.replay_url,
        elsewhere.newest_session_url,
    ]
    assert "links valid until 2026-10-21 09:30 UTC" in markup.text

    nothing_failed = msgspec.structs.replace(
        report, first_error_url=None, console_errors=[], failed_requests=[]
    )
    assert Markup(report_note(nothing_failed)).hrefs == [report.replay_url]


def test_the_first_link_shows_the_minutes_before_the_ticket_and_the_rest_is_a_click_away() -> None:
    report = sample_report()
    assert report.replay_window and report.whole_session_url and report.first_error_url
    markup = Markup(report_note(report))
    assert markup.hrefs[:3] == [
        report.replay_url,
        report.first_error_url,
        report.whole_session_url,
    ]
    assert (
        "Watch the replay before the ticket (0:01\N{EN DASH}0:05) · from the first error"
        " · the whole session (links valid until 2026-10-21 09:30 UTC)" in markup.text
    )
    nothing_failed = msgspec.structs.replace(
        report, first_error_url=None, console_errors=[], failed_requests=[]
    )
    assert Markup(report_note(nothing_failed)).hrefs == [
        report.replay_url,
        report.whole_session_url,
    ]


def test_the_note_says_how_many_other_users_hit_an_error_and_nothing_when_none_did() -> None:
    report = sample_report()
    text = Markup(report_note(report)).text
    assert (
        "This error hit 14 other users in the last 7 days (first seen 2026-09-16, release 4.1.0):"
        " newest other session" in text
    )
    # Nobody else got the 500.
    assert "This failure" not in text
    elsewhere = report.console_errors[0].seen_elsewhere
    assert elsewhere is not None
    failed = msgspec.structs.replace(
        report.failed_requests[0],
        seen_elsewhere=msgspec.structs.replace(elsewhere, newest_session_url="javascript:x"),
    )
    markup = Markup(report_note(msgspec.structs.replace(report, failed_requests=[failed])))
    assert "This failure hit 14 other users" in markup.text
    assert set(markup.tags) <= SAFE_TAGS and "javascript:x" not in markup.hrefs


def test_the_steps_are_an_ordered_list_in_order() -> None:
    report = sample_report()
    note = report_note(report)
    ordered = note[note.index("<ol>") : note.index("</ol>")]
    positions = [ordered.index(html.escape(step.text)) for step in report.steps]
    assert len(report.steps) > 3 and positions == sorted(positions)
    assert "<li>Clicked 'Place order' ×3 (0:04)</li>".replace("'", "&#x27;") in ordered


def test_the_note_has_the_headline_errors_with_stacks_requests_and_struggles() -> None:
    report = sample_report(marker="replaydesk-report-abc")
    note = report_note(report)
    text = Markup(note).text
    assert "user u42, started 2026-09-21 09:30 UTC, 0:06 long" in text
    assert "<pre>TypeError: payment failed\nat pay (https://shop.example/app.js:10:5)</pre>" in note
    assert "POST https://shop.example/api/pay → 500, 88 ms at 0:04" in text
    assert "Rage clicks on 'Place order' (3) at 0:04" in text
    # The marker is visible text: Zendesk may drop HTML comments, and a retry searches for it.
    assert "replaydesk-report-abc" in text


def test_an_attached_log_is_named() -> None:
    log = ReportFile(filename="session.log", content_type="text/plain", content=b"...")
    note = report_note(msgspec.structs.replace(sample_report(), log_file=log))
    assert "log is attached: session.log" in Markup(note).text
    unlogged = msgspec.structs.replace(sample_report(), log_file=None)
    assert "attached" not in report_note(unlogged)


def test_the_no_recording_note_says_whose_recording_is_missing_and_why() -> None:
    notice = MissingRecording(
        user_id="<u42>",
        reason="no session of user '<u42>' before the ticket",
        ticket_created_at=datetime(2026, 9, 21, 14, 14, tzinfo=UTC),
        marker="replaydesk-none-abc",
    )
    note = no_recording_note(notice)
    markup = Markup(note)
    assert set(markup.tags) <= SAFE_TAGS and "<u42>" not in note
    assert "No ReplayDesk recording found for this customer (user <u42>)." in markup.text
    assert notice.reason in markup.text and notice.marker in markup.text
    anonymous = Markup(no_recording_note(msgspec.structs.replace(notice, user_id=None))).text
    assert "for this customer." in anonymous


def test_left_out_steps_are_named_where_they_were_left_out() -> None:
    steps = [
        ReproStep(at=AT, offset_ms=n * 1000, kind="click", text=f"Clicked 'b{n}'")
        for n in range(1, 31)
    ]
    kept, omitted = trim_steps(steps, 12)
    note = report_note(msgspec.structs.replace(sample_report(), steps=kept, omitted_steps=omitted))
    section = note[note.index("Steps to reproduce") : note.index("Console errors")]
    # Twelve lines: the first three steps, the gap, the last eight under their own numbers.
    assert section.index("b3") < section.index("(19 more steps are in the replay)")
    assert section.index("(19 more steps are in the replay)") < section.index('<ol start="23">')
    assert "b23" in section and "b22" not in section


def test_the_note_says_where_the_session_was_recorded_and_on_which_page_errors_came() -> None:
    report = with_environment(sample_report())
    text = Markup(report_note(report)).text
    assert (
        "Environment: Chrome 131 on Windows 10 (desktop), viewport 1280×720, en-NZ, "
        "Pacific/Auckland, release 4.2.0 (production)" in text
    )
    assert "at 0:04 on https://shop.example/cart" in text
