"""A plugin reads answers its own way first: GitHub's 403 rate limit is retried at the reset."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from service import (
    PermanentError,
    RemoteError,
    RetryableError,
    rate_limit_exhausted,
    remote_request,
    retryable_statuses,
)


def answering(status: int, headers: dict[str, str] | None = None, text: str = "") -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, text=text)

    return httpx.Client(base_url="https://api.example", transport=httpx.MockTransport(handler))


def github_rate_limit(reset_in: int = 60) -> dict[str, str]:
    return {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(int(time.time()) + reset_in),
    }


def test_without_a_classifier_githubs_rate_limit_403_is_permanent() -> None:
    with answering(403, github_rate_limit(), "API rate limit exceeded") as client:
        with pytest.raises(PermanentError):
            remote_request(client, "POST", "/repos/o/r/issues/7/comments")


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_exhausted_waits_for_the_reset(status: int) -> None:
    with answering(status, github_rate_limit(reset_in=60), "API rate limit exceeded") as client:
        with pytest.raises(RetryableError) as limited:
            remote_request(
                client, "POST", "/repos/o/r/issues/7/comments", classify=rate_limit_exhausted
            )
    assert limited.value.status == status
    assert limited.value.retry_after is not None and 55 <= limited.value.retry_after <= 60
    assert "POST /repos/o/r/issues/7/comments answered" in str(limited.value)
    assert "rate limit exceeded" in str(limited.value)


def test_a_403_with_quota_left_is_still_permanent() -> None:
    headers = {**github_rate_limit(), "x-ratelimit-remaining": "4999"}
    with answering(403, headers, "Resource not accessible by integration") as client:
        with pytest.raises(PermanentError):
            remote_request(client, "GET", "/repos/o/r", classify=rate_limit_exhausted)


def test_retryable_statuses_takes_the_vendors_not_now() -> None:
    with answering(409, {"Retry-After": "5"}, "index rebuilding") as client:
        with pytest.raises(RetryableError) as busy:
            remote_request(client, "POST", "/x", classify=retryable_statuses(409))
    assert (busy.value.status, busy.value.retry_after) == (409, 5.0)
    with answering(404) as client, pytest.raises(PermanentError):
        remote_request(client, "GET", "/x", classify=retryable_statuses(409))


def test_a_classifier_sees_successes_too_and_none_keeps_the_default_rules() -> None:
    seen: list[int] = []

    def slack_style(response: httpx.Response) -> RemoteError | None:
        seen.append(response.status_code)
        if response.json().get("ok") is False:
            return PermanentError(f"refused: {response.json()['error']}")
        return None

    classify: Callable[[httpx.Response], RemoteError | None] = slack_style
    with answering(200, text='{"ok": false, "error": "channel_not_found"}') as client:
        with pytest.raises(PermanentError, match="channel_not_found"):
            remote_request(client, "POST", "/chat.postMessage", classify=classify)
    with answering(200, text='{"ok": true}') as client:
        assert remote_request(client, "POST", "/chat.postMessage", classify=classify).json()
    assert seen == [200, 200]
