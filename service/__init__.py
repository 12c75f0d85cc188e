"""ReplayDesk: session replay for support and bug triage; plugins import their API from here."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.errors import WebhookInvalid, WebhookRejected
    from service.plugin_host.hookspecs import hookimpl
    from service.plugin_host.remote_classifiers import (
        ResponseClassifier,
        rate_limit_exhausted,
        retryable_statuses,
    )
    from service.plugin_host.remote_errors import (
        PermanentError,
        RemoteError,
        RetryableError,
        before_the_write,
        parse_retry_after,
        rate_limit_wait,
    )
    from service.plugin_host.remote_http import DEFAULT_TIMEOUT, remote_client, remote_request
    from service.plugin_host.types import (
        AttachResult,
        CreatedIssue,
        IssueRequest,
        MissingRecording,
        PluginNotConfigured,
        PluginSettings,
        SettingSpec,
        TicketEvent,
        TicketProvider,
        TicketRef,
        WebhookRequest,
    )
    from service.plugin_host.webhook_signatures import (
        hmac_sha256,
        timestamp_is_fresh,
        verify_hmac_sha256,
    )
    from service.report.replay_report import (
        ErrorGroup,
        ReplayReport,
        ReplayWindow,
        ReportFile,
        RequestFailure,
        SeenElsewhere,
        Struggle,
    )
    from service.report.repro_steps import ReproStep, StepSection, request_status, step_sections
    from service.report.text import (
        environment_line,
        format_offset,
        headline,
        omitted_steps_line,
        render_markdown,
        render_text,
        seen_elsewhere_text,
        struggle_text,
        window_label,
    )
    from service.session_environment import SessionEnvironment
    from service.sessions.reader import SessionCounts, SessionSummary

__all__ = [
    "DEFAULT_TIMEOUT",
    "AttachResult",
    "CreatedIssue",
    "ErrorGroup",
    "IssueRequest",
    "MissingRecording",
    "PermanentError",
    "PluginNotConfigured",
    "PluginSettings",
    "RemoteError",
    "ReplayReport",
    "ReplayWindow",
    "ReportFile",
    "ReproStep",
    "RequestFailure",
    "ResponseClassifier",
    "RetryableError",
    "SeenElsewhere",
    "SessionCounts",
    "SessionEnvironment",
    "SessionSummary",
    "SettingSpec",
    "StepSection",
    "Struggle",
    "TicketEvent",
    "TicketProvider",
    "TicketRef",
    "WebhookInvalid",
    "WebhookRejected",
    "WebhookRequest",
    "__version__",
    "before_the_write",
    "environment_line",
    "format_offset",
    "headline",
    "hmac_sha256",
    "hookimpl",
    "omitted_steps_line",
    "parse_retry_after",
    "rate_limit_exhausted",
    "rate_limit_wait",
    "remote_client",
    "remote_request",
    "render_markdown",
    "render_text",
    "request_status",
    "retryable_statuses",
    "seen_elsewhere_text",
    "step_sections",
    "struggle_text",
    "timestamp_is_fresh",
    "verify_hmac_sha256",
    "window_label",
]

__version__ = "0.1.0"

# The public plugin API, imported on first use: `import service` stays cheap for the CLI and
# for every `service.*` module import.
_EXPORTS = {
    "hookimpl": "service.plugin_host.hookspecs",
    "AttachResult": "service.plugin_host.types",
    "CreatedIssue": "service.plugin_host.types",
    "IssueRequest": "service.plugin_host.types",
    "MissingRecording": "service.plugin_host.types",
    "PluginNotConfigured": "service.plugin_host.types",
    "PluginSettings": "service.plugin_host.types",
    "SettingSpec": "service.plugin_host.types",
    "TicketEvent": "service.plugin_host.types",
    "TicketProvider": "service.plugin_host.types",
    "TicketRef": "service.plugin_host.types",
    "WebhookRequest": "service.plugin_host.types",
    "WebhookInvalid": "service.errors",
    "WebhookRejected": "service.errors",
    "PermanentError": "service.plugin_host.remote_errors",
    "RemoteError": "service.plugin_host.remote_errors",
    "RetryableError": "service.plugin_host.remote_errors",
    "before_the_write": "service.plugin_host.remote_errors",
    "parse_retry_after": "service.plugin_host.remote_errors",
    "rate_limit_wait": "service.plugin_host.remote_errors",
    "ResponseClassifier": "service.plugin_host.remote_classifiers",
    "rate_limit_exhausted": "service.plugin_host.remote_classifiers",
    "retryable_statuses": "service.plugin_host.remote_classifiers",
    "DEFAULT_TIMEOUT": "service.plugin_host.remote_http",
    "remote_client": "service.plugin_host.remote_http",
    "remote_request": "service.plugin_host.remote_http",
    "ErrorGroup": "service.report.replay_report",
    "ReplayReport": "service.report.replay_report",
    "ReplayWindow": "service.report.replay_report",
    "ReportFile": "service.report.replay_report",
    "RequestFailure": "service.report.replay_report",
    "SeenElsewhere": "service.report.replay_report",
    "Struggle": "service.report.replay_report",
    "environment_line": "service.report.text",
    "format_offset": "service.report.text",
    "headline": "service.report.text",
    "omitted_steps_line": "service.report.text",
    "render_markdown": "service.report.text",
    "render_text": "service.report.text",
    "seen_elsewhere_text": "service.report.text",
    "struggle_text": "service.report.text",
    "window_label": "service.report.text",
    "ReproStep": "service.report.repro_steps",
    "request_status": "service.report.repro_steps",
    "StepSection": "service.report.repro_steps",
    "step_sections": "service.report.repro_steps",
    "SessionCounts": "service.sessions.reader",
    "SessionEnvironment": "service.session_environment",
    "SessionSummary": "service.sessions.reader",
    "hmac_sha256": "service.plugin_host.webhook_signatures",
    "timestamp_is_fresh": "service.plugin_host.webhook_signatures",
    "verify_hmac_sha256": "service.plugin_host.webhook_signatures",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'service' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
