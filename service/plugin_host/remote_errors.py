"""Errors of calls to remote APIs, split by whether trying again can help."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "PERMANENT_STATUSES",
    "PermanentError",
    "RemoteError",
    "RetryableError",
    "error_for_status",
    "parse_retry_after",
    "rate_limit_wait",
]

# Asking again cannot change these answers: bad request, bad or missing credentials, no such
# ticket, a method the endpoint lacks, a conflict, a payload the remote side refuses.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 410, 413, 415, 422})
# These say "not now": request timeout, too early, rate limited.
RETRYABLE_CLIENT_STATUSES = frozenset({408, 425, 429})
# A longer wait than a day is not a wait but an outage; the retry policy's own limits apply.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


class RemoteError(Exception):
    """A remote API call failed. `status` is the HTTP status when there was an answer."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RetryableError(RemoteError):
    """Trying again later can succeed: a timeout, a lost connection, 5xx, 429.

    `retry_after` is the wait in seconds the remote side asked for (`Retry-After`), if any.
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class PermanentError(RemoteError):
    """Trying again cannot help until someone changes something (credentials, ticket, payload)."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(tz=UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _reset_at(value: str, now: datetime) -> float | None:
    """Seconds until an `X-RateLimit-Reset` moment: an ISO timestamp or Unix seconds."""
    text = value.strip()
    try:
        epoch = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return (moment - now).total_seconds()
    # Small numbers are a wait in seconds already; Unix times are far beyond a day.
    return epoch - now.timestamp() if epoch > MAX_RETRY_AFTER_SECONDS else epoch


def rate_limit_wait(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait before calling again, from the headers of a rate-limited answer.

    `Retry-After` first; else the reset the rate-limit headers announce: `X-RateLimit-Reset`
    (Jira: an ISO timestamp; others: Unix seconds) or `RateLimit-Reset` (seconds from now).
    """
    wait = parse_retry_after(headers.get("retry-after"), now)
    if wait is not None:
        return wait
    moment = now or datetime.now(tz=UTC)
    for name in ("x-ratelimit-reset", "ratelimit-reset"):
        value = headers.get(name)
        seconds = _reset_at(value, moment) if value else None
        if seconds is not None and math.isfinite(seconds):
            return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
    return None


def error_for_status(
    status: int, what: str, detail: str = "", retry_after: str | float | None = None
) -> RemoteError | None:
    """The error an HTTP status means, or None for success (1xx-3xx).

    `what` names the call for the message (`"POST /tickets/7/comments"`); `detail` is an
    excerpt of the answer's body; `retry_after` the `Retry-After` header or a wait in seconds.
    """
    if status < 400:
        return None
    message = f"{what} answered {status}" + (f": {detail}" if detail else "")
    if status >= 500 or status in RETRYABLE_CLIENT_STATUSES:
        wait = retry_after if isinstance(retry_after, float) else parse_retry_after(retry_after)
        return RetryableError(message, status=status, retry_after=wait)
    return PermanentError(message, status=status)
