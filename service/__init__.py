"""ReplayDesk: session replay for support and bug triage; plugins import their API from here."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.errors import WebhookInvalid, WebhookRejected
    from service.hookspecs import hookimpl
    from service.plugin_types import (
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
    from service.remote_errors import (
        PermanentError,
        RemoteError,
        RetryableError,
        parse_retry_after,
    )
    from service.remote_http import DEFAULT_TIMEOUT, remote_request
    from service.replay_report import (
        ErrorGroup,
        ReplayReport,
        ReportFile,
        RequestFailure,
        Struggle,
    )
    from service.report_text import (
        format_offset,
        headline,
        render_markdown,
        render_text,
        struggle_text,
    )
    from service.repro_steps import ReproStep, request_status
    from service.session_views import SessionCounts, SessionSummary
    from service.webhook_signatures import hmac_sha256, timestamp_is_fresh, verify_hmac_sha256

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
    "ReportFile",
    "ReproStep",
    "RequestFailure",
    "RetryableError",
    "SessionCounts",
    "SessionSummary",
    "SettingSpec",
    "Struggle",
    "TicketEvent",
    "TicketProvider",
    "TicketRef",
    "WebhookInvalid",
    "WebhookRejected",
    "WebhookRequest",
    "__version__",
    "format_offset",
    "headline",
    "hmac_sha256",
    "hookimpl",
    "parse_retry_after",
    "remote_request",
    "render_markdown",
    "render_text",
    "request_status",
    "struggle_text",
    "timestamp_is_fresh",
    "verify_hmac_sha256",
]

__version__ = "0.1.0"

# The public plugin API, imported on first use: `import service` stays cheap for the CLI and
# for every `service.*` module import.
_EXPORTS = {
    "hookimpl": "service.hookspecs",
    "AttachResult": "service.plugin_types",
    "CreatedIssue": "service.plugin_types",
    "IssueRequest": "service.plugin_types",
    "MissingRecording": "service.plugin_types",
    "PluginNotConfigured": "service.plugin_types",
    "PluginSettings": "service.plugin_types",
    "SettingSpec": "service.plugin_types",
    "TicketEvent": "service.plugin_types",
    "TicketProvider": "service.plugin_types",
    "TicketRef": "service.plugin_types",
    "WebhookRequest": "service.plugin_types",
    "WebhookInvalid": "service.errors",
    "WebhookRejected": "service.errors",
    "PermanentError": "service.remote_errors",
    "RemoteError": "service.remote_errors",
    "RetryableError": "service.remote_errors",
    "parse_retry_after": "service.remote_errors",
    "DEFAULT_TIMEOUT": "service.remote_http",
    "remote_request": "service.remote_http",
    "ErrorGroup": "service.replay_report",
    "ReplayReport": "service.replay_report",
    "ReportFile": "service.replay_report",
    "RequestFailure": "service.replay_report",
    "Struggle": "service.replay_report",
    "format_offset": "service.report_text",
    "headline": "service.report_text",
    "render_markdown": "service.report_text",
    "render_text": "service.report_text",
    "struggle_text": "service.report_text",
    "ReproStep": "service.repro_steps",
    "request_status": "service.repro_steps",
    "SessionCounts": "service.session_views",
    "SessionSummary": "service.session_views",
    "hmac_sha256": "service.webhook_signatures",
    "timestamp_is_fresh": "service.webhook_signatures",
    "verify_hmac_sha256": "service.webhook_signatures",
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
