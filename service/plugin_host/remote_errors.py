"""Errors of calls to remote APIs, split by whether trying again can help."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "PERMANENT_STATUSES",
    "PermanentError",
    "RemoteError",
    "RetryableError",
    "before_the_write",
    "error_for_status",
    "may_have_written",
    "parse_retry_after",
    "rate_limit_wait",
]

# Asking again cannot change these answers: bad request, bad or missing credentials, no such
# ticket, a method the endpoint lacks, a conflict, a payload the remote side refuses.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 410, 413, 415, 422})
# These say "not now": request timeout, too early, rate limited.
RETRYABLE_CLIENT_STATUSES = frozenset({408, 425, 429})
# Answers from a server that did not process the request: every 4xx refuses it (408, 425, 429
# included), and 503 says the service is not taking requests. Other 5xx may come after the work.
_NOT_PROCESSED_SERVER_STATUSES = frozenset({503})
# A longer wait than a day is not a wait but an outage; the retry policy's own limits apply.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


class RemoteError(Exception):
    """A remote API call failed. `status` is the HTTP status when there was an answer.

    `may_have_written` says whether the write the hook was making may have reached the remote
    side anyway. True (the default) is the safe answer: the next attempt first looks for it
    (`replaydesk_find_attachment`, or `IssueRequest.may_exist`). False means it provably did
    not: the connection was never made, the answer refused the request (4xx, 503), or the
    call that failed came before the write.
    """

    def __init__(
        self, message: str, *, status: int | None = None, may_have_written: bool = True
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.may_have_written = may_have_written


class RetryableError(RemoteError):
    """Trying again later can succeed: a timeout, a lost connection, 5xx, 429.

    `retry_after` is the wait in seconds the remote side asked for (`Retry-After`), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        may_have_written: bool = True,
    ) -> None:
        super().__init__(message, status=status, may_have_written=may_have_written)
        self.retry_after = retry_after


class PermanentError(RemoteError):
    """Trying again cannot help until someone changes something (credentials, ticket, payload)."""


def may_have_written(error: BaseException) -> bool:
    """Whether the failed attempt's write may have landed: only a `RemoteError` that says
    otherwise rules it out (any other exception may have come at any point)."""
    return not isinstance(error, RemoteError) or error.may_have_written


@contextmanager
def before_the_write() -> Iterator[None]:
    """Mark a `RemoteError` raised inside as coming before the hook's write, so the next
    attempt need not look for that write: wrap the calls a hook makes before it (an upload the
    note then takes, a link added before the comment), never the write itself."""
    try:
        yield
    except RemoteError as error:
        error.may_have_written = False
        raise


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
    processed = status >= 500 and status not in _NOT_PROCESSED_SERVER_STATUSES
    if status >= 500 or status in RETRYABLE_CLIENT_STATUSES:
        wait = retry_after if isinstance(retry_after, float) else parse_retry_after(retry_after)
        return RetryableError(message, status=status, retry_after=wait, may_have_written=processed)
    return PermanentError(message, status=status, may_have_written=processed)
