"""ReplayDesk's built-in Jira plugin: replay reports as issue comments, bugs from sessions."""

from __future__ import annotations

import logging
import re

from plugins.jira.adf import no_recording_comment, plain_text, report_comment
from plugins.jira.client import JiraClient
from plugins.jira.payloads import issue_fields, request_label
from plugins.jira.report_writes import add_link_and_log
from plugins.jira.settings import SETTINGS, ConfigError, load_config
from plugins.jira.webhook import PROVIDER, parse_delivery
from service import (
    AttachResult,
    CreatedIssue,
    IssueRequest,
    MissingRecording,
    PermanentError,
    PluginSettings,
    RemoteError,
    ReplayReport,
    SettingSpec,
    TicketEvent,
    TicketProvider,
    TicketRef,
    WebhookRequest,
    before_the_write,
    hookimpl,
)

__all__ = ["PROVIDER"]

log = logging.getLogger(__name__)


# `/rest/api/3/issue/{issueIdOrKey}` takes a key (project key, a dash, a number) or an id.
_ISSUE_ID_OR_KEY = re.compile(r"\A(?:[A-Za-z][A-Za-z0-9_]*-)?[1-9][0-9]*\Z")


@hookimpl
def replaydesk_check_ticket_id(ticket: TicketRef) -> str | None:
    if _ISSUE_ID_OR_KEY.search(ticket.ticket_id):
        return None
    return "Jira issues are named by their key, like PROJ-123, or their numeric id"


@hookimpl
def replaydesk_plugin_settings() -> list[SettingSpec]:
    return list(SETTINGS)


@hookimpl
def replaydesk_ticket_provider(settings: PluginSettings) -> TicketProvider | None:
    try:
        config = load_config(settings)
    except ConfigError as exc:
        log.warning("the Jira plugin declares no provider: %s", exc)
        return None
    return TicketProvider(name=PROVIDER, title="Jira", no_recording_note=config.no_recording_note)


@hookimpl
def replaydesk_parse_webhook(
    request: WebhookRequest, settings: PluginSettings
) -> TicketEvent | None:
    return parse_delivery(request, load_config(settings))


@hookimpl
def replaydesk_attach_report(
    ticket: TicketRef, report: ReplayReport, settings: PluginSettings
) -> AttachResult:
    config, key = load_config(settings), ticket.ticket_id
    with JiraClient(config) as jira:
        # The comment carries the marker, so it goes last: once a retry finds it
        # (replaydesk_find_attachment), the link and the log file are there too. Until then
        # no comment can be there to find, and both may run again.
        with before_the_write():
            add_link_and_log(jira, key, report)
        comment_id = jira.add_comment(key, report_comment(report))
    return AttachResult(
        remote_id=comment_id, kind="comment", url=config.browse_url(key, comment_id)
    )


@hookimpl
def replaydesk_find_attachment(
    ticket: TicketRef, marker: str, settings: PluginSettings
) -> AttachResult | None:
    if not marker:
        return None
    config, key = load_config(settings), ticket.ticket_id
    with JiraClient(config) as jira:
        for comment in jira.comments(key):
            if marker in plain_text(comment.body):
                comment_id = str(comment.id)
                return AttachResult(remote_id=comment_id, url=config.browse_url(key, comment_id))
    return None


@hookimpl
def replaydesk_attach_no_recording(
    ticket: TicketRef, notice: MissingRecording, settings: PluginSettings
) -> AttachResult:
    config, key = load_config(settings), ticket.ticket_id
    with JiraClient(config) as jira:
        comment_id = jira.add_comment(key, no_recording_comment(notice))
    return AttachResult(
        remote_id=comment_id, kind="comment", url=config.browse_url(key, comment_id)
    )


@hookimpl
def replaydesk_create_issue(
    request: IssueRequest, report: ReplayReport, settings: PluginSettings
) -> CreatedIssue:
    config = load_config(settings)
    project = request.project or config.project
    if not project:
        raise PermanentError(
            f"no Jira project to open the issue in: name one, or set {settings.env_name('PROJECT')}"
        )
    fields = issue_fields(request, report, project, request.issue_type or config.issue_type)
    with JiraClient(config) as jira:
        # A retry after an answer that got lost finds the issue by its request label instead
        # of opening a second one (Jira's search sees a new issue within seconds). Only then:
        # after a refused or rate-limited create there is nothing to find.
        look = request.marker and request.may_exist
        found = jira.issue_labelled(request_label(request)) if look else None
        key = found or jira.create_issue(fields)
        try:
            add_link_and_log(jira, key, report)
        except RemoteError as exc:
            # The issue exists and carries the report: failing now would open a second one.
            log.warning("opened %s, but without its replay link or log file: %s", key, exc)
    return CreatedIssue(ticket_id=key, url=config.browse_url(key))
