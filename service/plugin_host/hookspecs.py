"""The plugin contract: every hook a ReplayDesk plugin may implement, typed and documented."""

# Each hookspec's body is its docstring; pluggy never calls it.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from service.plugin_host.types import (
        AttachResult,
        CreatedIssue,
        IssueRequest,
        MissingRecording,
        PluginSettings,
        SettingSpec,
        TicketEvent,
        TicketProvider,
        TicketRef,
        WebhookRequest,
    )
    from service.report.replay_report import ReplayReport
    from service.sessions.reader import SessionSummary

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "replaydesk"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a plugin function as the implementation of the hook of the same name."""


@hookspec
def replaydesk_plugin_settings() -> Sequence[SettingSpec]:
    """Declare the settings your plugin reads from `REPLAYDESK_<PLUGIN>_<NAME>`.

    `replaydesk plugins` lists them (secrets only as set/unset). While a `required` setting is
    unset the plugin stays idle: it is loaded, but none of its other hooks are called, so they
    may assume every required setting is there.

    :return: the settings, in the order to list them.
    """


@hookspec
def replaydesk_ticket_provider(settings: PluginSettings) -> TicketProvider | None:
    """Name the ticket provider (helpdesk or tracker) your plugin answers for.

    Attach requests and webhooks name a provider; ReplayDesk calls the hooks below only on the
    plugin that declared it, with that plugin's own settings. Called when a process starts and
    on request paths: no network I/O here.

    :param settings: your plugin's settings (`REPLAYDESK_<PLUGIN>_*`).
    :return: the provider, or None to declare none (e.g. when a feature switch is off).
    """


@hookspec(firstresult=True)
def replaydesk_attach_report(
    ticket: TicketRef, report: ReplayReport, settings: PluginSettings
) -> AttachResult | None:
    """Write a replay report into a ticket of your provider (a comment, a note, ...).

    Runs only inside a job, never on a request path, so it may call the network. Raise
    `RetryableError` for timeouts, 5xx and 429 (with `retry_after`) and `PermanentError` for
    answers that will not change (400, 401, 403, 404, 422); `remote_request` does this for
    httpx calls, and sets the error's `may_have_written` to False when the request provably
    was not processed (no connection, 4xx, 503). When your hook makes calls before its write
    (an upload the note takes), run them inside `with before_the_write():` so their errors say
    so too: the retry then writes at once instead of looking for an earlier write first. Put
    `report.marker` into what you write and pass it as the vendor's idempotency key where
    there is one: a retry then finds the earlier write instead of writing twice. The job
    records your result and never calls this hook again for the same ticket and session once
    it returned.

    :param ticket: the ticket to write to (its `provider` is yours).
    :param report: the report: viewer link, session summary, errors, failed requests, steps.
    :param settings: your plugin's settings.
    :return: what was created on the remote side; the first non-None result wins.
    """


@hookspec(firstresult=True)
def replaydesk_find_attachment(
    ticket: TicketRef, marker: str, settings: PluginSettings
) -> AttachResult | None:
    """Look on the remote side for a report written earlier under this marker.

    Called inside a job before `replaydesk_attach_report` whenever an earlier attempt for the
    same ticket and session may have reached the remote side (it started but did not record a
    result: a read timeout, a 5xx after the write, a crash). Not called when every earlier
    attempt failed with an error whose `may_have_written` is False (a 429, a refused
    connection, an error raised inside `before_the_write()`). Optional: without it, a retry
    relies on the vendor's idempotency key alone.

    :param ticket: the ticket the report was meant for.
    :param marker: the `ReplayReport.marker` of that report.
    :param settings: your plugin's settings.
    :return: the earlier write when you find it (no new write happens), else None.
    """


@hookspec(firstresult=True)
def replaydesk_check_ticket_id(ticket: TicketRef, settings: PluginSettings) -> str | None:
    """Say whether a ticket ID can be one of your provider's, when an attach request arrives.

    Called on the request path of `POST /api/v1/tickets/attach`, before anything is recorded
    or enqueued, so it must not call the network: check the ID's form only (a Zendesk ticket
    ID is a number, a Jira issue key is `PROJ-123`). Without it every non-empty ID is taken
    and only the job finds out.

    :param ticket: the provider and the ticket ID as the caller sent it.
    :param settings: your plugin's settings.
    :return: None when the ID can be yours; otherwise why not, in a few words the caller reads
        in the 400 answer ("Zendesk ticket IDs are whole numbers").
    """


@hookspec(firstresult=True)
def replaydesk_parse_webhook(
    request: WebhookRequest, settings: PluginSettings
) -> TicketEvent | None:
    """Verify and parse an inbound webhook sent to `POST /webhooks/{provider}` for your provider.

    Called on the request path with the raw body before anything else looks at it, so it must
    not call the network. Verify the signature over `request.body` in constant time (see
    `verify_hmac_sha256`) and check a timestamp window; raise `WebhookRejected` (401) when it
    does not verify and `WebhookInvalid` (400) when the body cannot be parsed. Providers that
    do not implement this hook take no webhooks (404).

    :param request: the headers (lower-case names) and raw body as received.
    :param settings: your plugin's settings.
    :return: the ticket event; ReplayDesk picks the session and enqueues the attach job when
        `event.attach` is true. None means the event needs nothing (202, nothing enqueued).
    """


@hookspec(firstresult=True)
def replaydesk_resolve_user(
    ticket: TicketRef, requester: str, settings: PluginSettings
) -> str | None:
    """Find the customer's user ID (as the recorder knows it) for a ticket's requester.

    Called inside a job for a webhook whose `TicketEvent` named a `requester` and no user ID,
    so it may call the network (e.g. the helpdesk's user API and its `external_id`).

    :param ticket: the ticket the requester opened.
    :param requester: the provider's id of the requester, from `TicketEvent.requester`.
    :param settings: your plugin's settings.
    :return: the user ID, or None when the requester has none (the job then says so).
    """


@hookspec(firstresult=True)
def replaydesk_attach_no_recording(
    ticket: TicketRef, notice: MissingRecording, settings: PluginSettings
) -> AttachResult | None:
    """Write a short "no recording found" note into a ticket whose customer has no session.

    Called inside a job, only when your `TicketProvider.no_recording_note` is true, and at
    most once per ticket. Errors as for `replaydesk_attach_report`.

    :param ticket: the ticket to write to.
    :param notice: whose recording is missing and why; put `notice.marker` into the note.
    :param settings: your plugin's settings.
    :return: what was created on the remote side.
    """


@hookspec(firstresult=True)
def replaydesk_create_issue(
    request: IssueRequest, report: ReplayReport, settings: PluginSettings
) -> CreatedIssue | None:
    """Open a new issue from a session (`POST /api/v1/sessions/{id}/issues`).

    Called inside a job, at most once per request unless it raised. Write the report into the
    issue (its description, links, the log file) the way `replaydesk_attach_report` would:
    ReplayDesk records the issue as already carrying this session's report. Errors as for
    `replaydesk_attach_report`. When `request.may_exist` is True an earlier attempt may have
    opened the issue without the answer arriving: look for one carrying `request.marker`
    first and return it instead of opening a second; when False, open it at once.

    :param request: summary, project and issue type asked for (None: your defaults), the
        `marker` to write into the issue, and `may_exist`.
    :param report: the session's report; its links are not bound to any ticket.
    :param settings: your plugin's settings.
    :return: the issue created.
    """


@hookspec
def replaydesk_session_ended(session: SessionSummary, settings: PluginSettings) -> None:
    """Be told that a recorded session ended (a final batch, or idle past the timeout).

    Called inside a job, at most once per session, some minutes after the end. An exception
    is logged and does not stop other plugins from being told.

    :param session: the ended session's summary: user, start/end, pages, counts, first error.
    :param settings: your plugin's settings.
    """
