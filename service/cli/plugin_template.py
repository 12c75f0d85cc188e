"""The files `replaydesk plugin new NAME` writes, as `string.Template`s.

Placeholders: `$name` (the plugin and provider name, `acme`), `$package` (`replaydesk_acme`),
`$header` (`acme`, with dashes for underscores, in header names), `$next_minor`,
`$dist` (`replaydesk-acme`), `$title` (`Acme`), `$upper` (`ACME`), `$version` (ReplayDesk's).
The generated package passes its own tests and ruff as written: a test checks both.
"""

from __future__ import annotations

from string import Template

__all__ = ["FILES"]

PYPROJECT = Template("""\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "ReplayDesk plugin: replay reports as $title ticket comments"
readme = "README.md"
requires-python = ">=3.11"
# Upper bounds: the next release not yet tested (for 0.x, the next minor).
dependencies = ["replaydesk>=$version,<$next_minor", "httpx>=0.27,<1", "msgspec>=0.19,<1"]

[project.optional-dependencies]
test = ["pytest>=8,<10"]

# What makes it a ReplayDesk plugin: `replaydesk plugins` lists `$name` once installed.
[project.entry-points.replaydesk]
$name = "$package"

[tool.setuptools]
packages = ["$package"]

[tool.pytest.ini_options]
testpaths = ["tests"]

[tool.ruff]
line-length = 100
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP", "S", "RUF"]
ignore = ["S101"]

[tool.ruff.lint.isort]
known-first-party = ["$package"]
known-third-party = ["service"]

[tool.ruff.lint.per-file-ignores]
"tests/**" = ["S105", "S106", "S107"]
""")

README = Template("""\
# $dist

A ReplayDesk plugin that writes session replay reports into $title
tickets as comments, and attaches one when $title's `ticket.created` webhook arrives.

## Install and configure

```sh
pip install -e .          # in ReplayDesk's environment
export REPLAYDESK_${upper}_URL=https://$name.example
export REPLAYDESK_${upper}_TOKEN=...           # an API token of a bot user
export REPLAYDESK_${upper}_WEBHOOK_SECRET=...  # signs $title's webhooks
replaydesk plugins
```

Point $title's webhook at `{public_url}/webhooks/$name`.

## Test

```sh
pip install -e '.[test]'
pytest
```

The tests run against `$package/fake_tracker.py`, a stand-in $title on loopback, and the
exactly-once test runs the real attach pipeline in-process (`service.plugin_testing`); it needs
`redis-server` installed (or `REPLAYDESK_REDIS_URL` naming an empty Redis database).

Adapt the endpoints in `__init__.py` and in the fake to $title's real API, then the webhook
payload and its signature headers. See ReplayDesk's docs/plugins.md.
""")

CONFTEST = Template('''\
"""Makes the tests import the plugin from this folder, installed or not."""
''')

PLUGIN = Template('''\
"""ReplayDesk plugin for $title: replay reports as ticket comments, tickets from webhooks."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

import httpx
import msgspec
from service import (
    AttachResult,
    PluginSettings,
    ReplayReport,
    SettingSpec,
    TicketEvent,
    TicketProvider,
    TicketRef,
    WebhookInvalid,
    WebhookRejected,
    WebhookRequest,
    hookimpl,
    rate_limit_exhausted,
    remote_client,
    remote_request,
    render_markdown,
    timestamp_is_fresh,
    verify_hmac_sha256,
)

__all__ = ["PROVIDER", "__version__"]

__version__ = "0.1.0"
PROVIDER = "$name"
_TICKET_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


@hookimpl
def replaydesk_plugin_settings() -> list[SettingSpec]:
    return [
        SettingSpec(name="URL", description="$title base URL", required=True),
        SettingSpec(
            name="TOKEN", description="API token of a bot user", required=True, secret=True
        ),
        SettingSpec(name="WEBHOOK_SECRET", description="signs $title webhooks", secret=True),
    ]


@hookimpl
def replaydesk_ticket_provider() -> TicketProvider:
    return TicketProvider(name=PROVIDER, title="$title")


@hookimpl
def replaydesk_check_ticket_id(ticket: TicketRef) -> str | None:
    if _TICKET_ID.fullmatch(ticket.ticket_id):
        return None
    return "$title ticket IDs are letters, digits and dashes, like T-7"


def _client(settings: PluginSettings) -> httpx.Client:
    headers = {"Authorization": f"Bearer {settings.require('TOKEN')}"}
    return remote_client(settings.require("URL"), headers=headers)


def _comments_path(ticket: TicketRef) -> str:
    return f"/api/tickets/{quote(ticket.ticket_id, safe='')}/comments"


@hookimpl
def replaydesk_attach_report(
    ticket: TicketRef, report: ReplayReport, settings: PluginSettings
) -> AttachResult:
    # The marker, hidden in the comment, lets replaydesk_find_attachment find this write.
    body = f"{render_markdown(report)}\\n<!-- {report.marker} -->\\n"
    with _client(settings) as client:
        response = remote_request(
            client,
            "POST",
            _comments_path(ticket),
            json={"body": body},
            headers={"Idempotency-Key": report.marker},
            # An exhausted quota answered with 403 (or 429) waits for the reset.
            classify=rate_limit_exhausted,
        )
    created = response.json()
    return AttachResult(remote_id=str(created["id"]), kind="comment", url=created.get("url"))


@hookimpl
def replaydesk_find_attachment(
    ticket: TicketRef, marker: str, settings: PluginSettings
) -> AttachResult | None:
    with _client(settings) as client:
        response = remote_request(
            client, "GET", _comments_path(ticket), classify=rate_limit_exhausted
        )
    for comment in response.json()["comments"]:
        if marker in comment["body"]:
            return AttachResult(remote_id=str(comment["id"]), url=comment.get("url"))
    return None


class _Ticket(msgspec.Struct):
    id: str | int
    created_at: datetime | None = None
    reporter_id: str | None = None


class _Webhook(msgspec.Struct):
    event: str
    ticket: _Ticket


@hookimpl
def replaydesk_parse_webhook(request: WebhookRequest, settings: PluginSettings) -> TicketEvent:
    secret = settings.get("WEBHOOK_SECRET")
    timestamp = request.headers.get("x-$header-timestamp")
    signature = request.headers.get("x-$header-signature")
    if not (secret and timestamp_is_fresh(timestamp)):
        raise WebhookRejected("no webhook secret is set, or the timestamp is stale")
    if not verify_hmac_sha256(secret, f"{timestamp}.".encode() + request.body, signature):
        raise WebhookRejected("the $title signature does not verify")
    try:
        hook = msgspec.json.decode(request.body, type=_Webhook)
    except msgspec.DecodeError as exc:
        raise WebhookInvalid(f"not a $title webhook: {exc}") from None
    return TicketEvent(
        ticket=TicketRef(provider=PROVIDER, ticket_id=str(hook.ticket.id)),
        user_id=hook.ticket.reporter_id,
        created_at=hook.ticket.created_at,
        attach=hook.event == "ticket.created",
        delivery_id=request.headers.get("x-$header-delivery"),
    )
''')

FAKE = Template('''\
"""A stand-in $title for tests: its comment API on ReplayDesk's fake tracker, in memory."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from service import hmac_sha256
from service.plugin_testing import FakeTracker, RecordedRequest, route

__all__ = ["COMMENTS", "Fake$title", "signed_webhook"]

COMMENTS = "/api/tickets/{ticket}/comments"


def signed_webhook(
    secret: str, payload: dict[str, Any], timestamp: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """A webhook body and the headers $title signs it with."""
    body = json.dumps(payload).encode()
    stamp = str(int(time.time() if timestamp is None else timestamp))
    return body, {
        "Content-Type": "application/json",
        "X-$header-Timestamp": stamp,
        "X-$header-Signature": "sha256=" + hmac_sha256(secret, f"{stamp}.".encode() + body),
        "X-$header-Delivery": str(uuid.uuid4()),
    }


class Fake$title(FakeTracker):
    """$title's comment API: list and add comments, a bearer token."""

    def __init__(self, token: str = "$name-token") -> None:  # noqa: S107 - not a secret
        super().__init__()
        self.token = token
        self.comments: dict[str, list[dict[str, Any]]] = {}

    def authorize(self, request: RecordedRequest) -> tuple[int, Any] | None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"error": "bad token"}
        return None

    @route("GET", COMMENTS)
    def list_comments(self, request: RecordedRequest, ticket: str) -> tuple[int, Any]:
        return 200, {"comments": self.comments.get(ticket, [])}

    @route("POST", COMMENTS)
    def add_comment(self, request: RecordedRequest, ticket: str) -> tuple[int, Any]:
        if not isinstance(request.json, dict) or not isinstance(request.json.get("body"), str):
            return 422, {"error": "a comment needs a string body"}
        comment_id = f"c{sum(map(len, self.comments.values())) + 1}"
        url = f"{self.url}/tickets/{ticket}#{comment_id}"
        self.comments.setdefault(ticket, []).append(
            {"id": comment_id, "body": request.json["body"], "url": url}
        )
        return 201, {"id": comment_id, "url": url}
''')

TESTS = Template('''\
"""The $title plugin against a fake $title: hooks directly, then the whole pipeline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from service import (
    PermanentError,
    PluginSettings,
    RetryableError,
    TicketRef,
    WebhookRejected,
    WebhookRequest,
)
from service.plugin_testing import Fault, PluginHarness, sample_report

import $package as plugin
from $package.fake_tracker import COMMENTS, Fake$title, signed_webhook

SECRET = "whsec-test"
TICKET = TicketRef(provider="$name", ticket_id="T-7")


@pytest.fixture
def tracker() -> Iterator[Fake$title]:
    with Fake$title() as fake:
        yield fake


@pytest.fixture
def values(tracker: Fake$title) -> dict[str, str]:
    return {"URL": tracker.url, "TOKEN": tracker.token, "WEBHOOK_SECRET": SECRET}


@pytest.fixture
def settings(values: dict[str, str]) -> PluginSettings:
    specs = tuple(plugin.replaydesk_plugin_settings())
    return PluginSettings(plugin="$name", values=values, specs=specs)


@pytest.fixture
def replaydesk(values: dict[str, str]) -> Iterator[PluginHarness]:
    with PluginHarness(plugin, values) as harness:
        yield harness


def test_ticket_ids_are_checked_before_anything_is_recorded() -> None:
    assert plugin.replaydesk_check_ticket_id(TICKET) is None
    assert plugin.replaydesk_check_ticket_id(TicketRef(provider="$name", ticket_id="a/b"))


def test_attach_writes_one_comment_that_a_retry_can_find(
    tracker: Fake$title, settings: PluginSettings
) -> None:
    report = sample_report(marker="replaydesk-report-abc123")
    created = plugin.replaydesk_attach_report(TICKET, report, settings)
    (comment,) = tracker.comments["T-7"]
    assert comment["id"] == created.remote_id and report.replay_url in comment["body"]
    assert plugin.replaydesk_find_attachment(TICKET, report.marker, settings) == created
    assert plugin.replaydesk_find_attachment(TICKET, "replaydesk-report-other", settings) is None


def test_rate_limits_and_outages_are_retryable_and_a_bad_token_is_not(
    tracker: Fake$title, settings: PluginSettings
) -> None:
    reset = str(int(time.time()) + 60)
    exhausted = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    tracker.fail_next(Fault(403, headers=exhausted), Fault(503), method="POST", path=COMMENTS)
    with pytest.raises(RetryableError) as limited:
        plugin.replaydesk_attach_report(TICKET, sample_report(), settings)
    assert limited.value.retry_after is not None and limited.value.retry_after > 50
    with pytest.raises(RetryableError):
        plugin.replaydesk_attach_report(TICKET, sample_report(), settings)
    wrong = PluginSettings(plugin="$name", values={**settings.values, "TOKEN": "wrong"})
    with pytest.raises(PermanentError):
        plugin.replaydesk_attach_report(TICKET, sample_report(), wrong)


def _request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    lowered = {name.lower(): value for name, value in headers.items()}
    return WebhookRequest(
        provider="$name", headers=lowered, body=body, received_at=datetime.now(tz=UTC)
    )


def test_a_signed_webhook_is_parsed_and_a_forged_one_rejected(settings: PluginSettings) -> None:
    payload = {"event": "ticket.created", "ticket": {"id": 7, "reporter_id": "u42"}}
    event = plugin.replaydesk_parse_webhook(_request(*signed_webhook(SECRET, payload)), settings)
    assert (event.ticket.ticket_id, event.user_id, event.attach) == ("7", "u42", True)
    with pytest.raises(WebhookRejected):
        plugin.replaydesk_parse_webhook(_request(*signed_webhook("guess", payload)), settings)


def test_one_comment_under_a_429_a_lost_reply_and_a_duplicate_webhook(
    tracker: Fake$title, replaydesk: PluginHarness
) -> None:
    session = replaydesk.record_session(user_id="u42")
    tracker.fail_next(Fault(429, retry_after="30"), Fault.lost_reply(), method="POST")
    body, headers = signed_webhook(
        SECRET, {"event": "ticket.created", "ticket": {"id": 7, "reporter_id": "u42"}}
    )
    first = replaydesk.webhook(body, headers)
    again = replaydesk.webhook(body, headers)  # the same delivery, sent again
    assert first.status_code == again.status_code == 202
    assert first.json()["session_id"] == session and again.json()["job_id"] is not None

    (job,) = replaydesk.run_jobs()
    assert (job.status, job.attempts, job.waits[0]) == ("finished", 3, 30)
    (comment,) = tracker.comments["7"]
    assert job.result["remote"]["remote_id"] == comment["id"]
''')

FILES = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "conftest.py": CONFTEST,
    "$package/__init__.py": PLUGIN,
    "$package/fake_tracker.py": FAKE,
    "tests/test_$name.py": TESTS,
}
