"""Ready-made response classifiers: a plugin's own reading of an answer, before the default rules.

A classifier gets the `httpx.Response` of every call made through `remote_request(...,
classify=...)` and returns the `RemoteError` it means, or None to leave the answer to the
default rules (`remote_errors.error_for_status`). Vendors that say "rate limited" with another
status than 429 (GitHub: a 403 with `x-ratelimit-remaining: 0`), or "not now" with a 409, are
one classifier away from being retried at the right time instead of failing for good.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from service.plugin_host.remote_errors import RemoteError, RetryableError, rate_limit_wait

__all__ = ["ResponseClassifier", "rate_limit_exhausted", "retryable_statuses"]

ResponseClassifier = Callable[[httpx.Response], RemoteError | None]
"""Reads one answer: the error it means, or None for the default rules."""

# Enough of an error body to say what the remote side disliked, short enough for a log line.
_DETAIL_CHARS = 300


def _message(response: httpx.Response, why: str) -> str:
    request = response.request
    detail = response.text[:_DETAIL_CHARS].strip()
    return f"{request.method} {request.url.path} answered {response.status_code} ({why})" + (
        f": {detail}" if detail else ""
    )


def rate_limit_exhausted(response: httpx.Response) -> RemoteError | None:
    """A 403 or 429 whose `X-RateLimit-Remaining` is 0 is a rate limit: retry once it resets.

    GitHub (and others) answer an exhausted quota with 403 and announce the reset in
    `X-RateLimit-Reset` (Unix seconds); the wait is read as `rate_limit_wait` reads it
    (`Retry-After` first). Any other answer is left to the default rules.
    """
    if response.status_code not in (403, 429):
        return None
    if response.headers.get("x-ratelimit-remaining", "").strip() != "0":
        return None
    return RetryableError(
        _message(response, "rate limit exhausted"),
        status=response.status_code,
        retry_after=rate_limit_wait(response.headers),
        may_have_written=False,  # refused before any work
    )


def retryable_statuses(*statuses: int) -> ResponseClassifier:
    """A classifier that takes these statuses as "not now" (retried, honouring `Retry-After`
    and the rate-limit reset headers), for a vendor whose 409 or 403 means "try again"."""
    wanted = frozenset(statuses)

    def classify(response: httpx.Response) -> RemoteError | None:
        if response.status_code not in wanted:
            return None
        return RetryableError(
            _message(response, "taken as retryable"),
            status=response.status_code,
            retry_after=rate_limit_wait(response.headers),
            # A 4xx is an answer to a request the remote side did not carry out.
            may_have_written=response.status_code >= 500,
        )

    return classify
