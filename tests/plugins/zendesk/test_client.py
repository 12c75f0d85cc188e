"""The requests the plugin sends, held against Zendesk's spec, and how Zendesk's answers map."""

from __future__ import annotations

import json

import httpx
import msgspec
import pytest
import respx

from plugins import zendesk as plugin
from plugins.zendesk.note import report_note
from service import (
    PermanentError,
    RemoteError,
    ReplayReport,
    ReportFile,
    RetryableError,
    TicketRef,
    __version__,
)
from service.plugin_testing import sample_report
from tests.plugins.zendesk.contract import example, request_violations, schema_violations
from tests.plugins.zendesk.fake_zendesk import (
    API_TOKEN,
    EMAIL,
    ZENDESK_URL,
    FakeZendesk,
    basic_authorization,
    plugin_settings,
)

TICKET = TicketRef(provider="zendesk", ticket_id="35436")
LOG = ReportFile(
    filename="replaydesk-sess-sample-0001-log.txt",
    content_type="text/plain; charset=utf-8",
    content=b"0:01 console.log cart loaded\n0:04 POST https://shop.example/api/pay 500\n",
)


def logged_report() -> ReplayReport:
    return msgspec.structs.replace(sample_report(), log_file=LOG)


def unlogged_report() -> ReplayReport:
    return msgspec.structs.replace(sample_report(), log_file=None)


def test_the_log_is_uploaded_as_itself_and_the_note_takes_its_token(zendesk: FakeZendesk) -> None:
    report = logged_report()
    plugin.replaydesk_attach_report(TICKET, report, plugin_settings())

    (upload,) = zendesk.calls("POST")
    assert upload.url.path == "/api/v2/uploads"
    assert upload.url.params["filename"] == LOG.filename
    assert upload.headers["content-type"] == LOG.content_type
    assert upload.content == LOG.content

    (update,) = zendesk.calls("PUT")
    assert update.url.path == "/api/v2/tickets/35436"
    body = json.loads(update.content)
    assert schema_violations(body, "TicketUpdateRequest") == []
    token = example("upload-file.201.response.json")["upload"]["token"]
    assert body == {
        "ticket": {
            "comment": {"html_body": report_note(report), "public": False, "uploads": [token]}
        }
    }
    assert [request_violations(request) for request in zendesk.requests] == [[], []]


def test_a_note_without_a_log_uploads_nothing(zendesk: FakeZendesk) -> None:
    plugin.replaydesk_attach_report(TICKET, unlogged_report(), plugin_settings())
    assert zendesk.calls("POST") == []
    (update,) = zendesk.calls("PUT")
    assert "uploads" not in json.loads(update.content)["ticket"]["comment"]


@pytest.mark.parametrize(
    ("values", "authorization"),
    [
        ({}, basic_authorization(EMAIL, API_TOKEN)),
        ({"OAUTH_TOKEN": "oauth-not-real", "API_TOKEN": ""}, "Bearer oauth-not-real"),
    ],
    ids=["api-token", "oauth"],
)
def test_every_request_carries_the_credentials_and_says_who_sends_it(
    values: dict[str, str], authorization: str
) -> None:
    with respx.mock(base_url=ZENDESK_URL, assert_all_called=False) as router:
        fake = FakeZendesk(router, authorization)
        fake.users["20978392"] = {"external_id": "u42"}
        settings = plugin_settings(**values)
        plugin.replaydesk_attach_report(TICKET, logged_report(), settings)
        plugin.replaydesk_find_attachment(TICKET, "replaydesk-report-x", settings)
        plugin.replaydesk_resolve_user("20978392", settings)
    assert {r.headers["authorization"] for r in fake.requests} == {authorization}
    assert {r.headers["user-agent"] for r in fake.requests} == {f"ReplayDesk/{__version__}"}
    assert [r.method for r in fake.requests] == ["POST", "PUT", "GET", "GET"]
    assert fake.violations == []


def test_wrong_credentials_are_a_permanent_error(zendesk: FakeZendesk) -> None:
    with pytest.raises(PermanentError) as refused:
        plugin.replaydesk_attach_report(
            TICKET, logged_report(), plugin_settings(API_TOKEN="revoked-token")
        )
    assert refused.value.status == 401
    assert "revoked-token" not in str(refused.value)


@pytest.mark.parametrize(
    ("answer", "error", "retry_after"),
    [
        (
            httpx.Response(429, headers={"Retry-After": "7"}, text="Too many requests"),
            RetryableError,
            7.0,
        ),
        (
            # Zendesk's ticketing endpoints announce their window's reset in `ratelimit-reset`.
            httpx.Response(429, headers={"ratelimit-remaining": "0", "ratelimit-reset": "12"}),
            RetryableError,
            12.0,
        ),
        (httpx.Response(500, json={"error": "InternalError"}), RetryableError, None),
        (httpx.Response(503, text="Service Unavailable"), RetryableError, None),
        (httpx.Response(401, json={"error": "Couldn't authenticate you"}), PermanentError, None),
        (httpx.Response(404, json={"error": "RecordNotFound"}), PermanentError, None),
        (httpx.Response(422, json={"error": "RecordInvalid"}), PermanentError, None),
    ],
    ids=["429", "429-reset", "500", "503", "401", "404", "422"],
)
def test_zendesks_answers_say_whether_a_retry_helps(
    zendesk: FakeZendesk,
    answer: httpx.Response,
    error: type[RemoteError],
    retry_after: float | None,
) -> None:
    zendesk.put_faults.append(answer)
    with pytest.raises(error) as failed:
        plugin.replaydesk_attach_report(TICKET, sample_report(), plugin_settings())
    assert failed.value.status == answer.status_code
    assert getattr(failed.value, "retry_after", None) == retry_after
    assert zendesk.notes == {}


def test_a_timeout_is_retryable() -> None:
    with respx.mock(base_url=ZENDESK_URL) as router:
        router.put("/api/v2/tickets/35436").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(RetryableError):
            plugin.replaydesk_attach_report(TICKET, unlogged_report(), plugin_settings())


def comments_page(*bodies: str, next_page: str | None = None) -> httpx.Response:
    template = example("list-comments.200.response.json")["comments"][0]
    comments = [
        {**template, "id": 1000 + n, "body": body, "html_body": f"<p>{body}</p>"}
        for n, body in enumerate(bodies)
    ]
    return httpx.Response(200, json={"comments": comments, "next_page": next_page})


def test_find_attachment_follows_next_page_on_this_zendesk_only() -> None:
    marker = "replaydesk-report-abc"
    page_2 = f"{ZENDESK_URL}/api/v2/tickets/35436/comments.json?page=2&per_page=100"
    with respx.mock(base_url=ZENDESK_URL) as router:
        route = router.get(path__regex=r"^/api/v2/tickets/35436/comments(\.json)?$")
        route.side_effect = [
            comments_page("Thanks for your help!", next_page=page_2),
            comments_page("Looking into it", f"Session replay ... ReplayDesk {marker}"),
        ]
        found = plugin.replaydesk_find_attachment(TICKET, marker, plugin_settings())
        assert [request_violations(call.request) for call in route.calls] == [[], []]
    assert found is not None and found.remote_id == "1001"
    assert found.url == f"{ZENDESK_URL}/agent/tickets/35436"

    elsewhere = "https://attacker.example/api/v2/tickets/35436/comments.json?page=2"
    with respx.mock(base_url=ZENDESK_URL) as router:
        route = router.get("/api/v2/tickets/35436/comments")
        route.return_value = comments_page("Thanks!", next_page=elsewhere)
        assert plugin.replaydesk_find_attachment(TICKET, marker, plugin_settings()) is None
        assert route.call_count == 1  # the credentials never went to another host
