"""The running service as commands reach it: whether one serves this data dir (or
`REPLAYDESK_URL` names one), and an HTTP client carrying this data dir's API key.

A service runs with its own environment (plugin settings, credentials), which this shell may
not have: commands that show or use what the service has ask it rather than their own shell.
"""

from __future__ import annotations

import os

import httpx
import msgspec

from service.data_dir_lock import serving_url
from service.settings import PREFIX, Settings

__all__ = ["ASK_TIMEOUT_SECONDS", "problem_detail", "running_service", "service_client"]

ASK_TIMEOUT_SECONDS = 5.0


def running_service(settings: Settings) -> str | None:
    """The base URL of the service to ask: `REPLAYDESK_URL`, else the `replaydesk serve`
    running on this data dir; None when neither."""
    return os.environ.get(f"{PREFIX}URL") or serving_url(settings.data_dir)


def service_client(
    url: str, settings: Settings, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """A client for the service's API at `url`, with the first API key of `settings` (the
    data dir's generated key unless `REPLAYDESK_API_KEYS` is set). Use it as a context
    manager."""
    headers = {"Authorization": f"Bearer {settings.api_keys[0]}"} if settings.api_keys else {}
    return httpx.Client(
        base_url=url.rstrip("/"),
        headers=headers,
        timeout=ASK_TIMEOUT_SECONDS,
        transport=transport,
    )


class _Problem(msgspec.Struct):
    detail: str = ""


def problem_detail(response: httpx.Response) -> str:
    """What an error answer says to a person: its problem+json `detail`, else the status."""
    try:
        detail = msgspec.json.decode(response.content, type=_Problem).detail
    except (msgspec.DecodeError, msgspec.ValidationError):
        detail = ""
    return detail or f"the service answered {response.status_code}"
