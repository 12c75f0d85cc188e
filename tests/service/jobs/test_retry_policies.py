"""Retry policies: jittered exponential backoff, Retry-After honoured, only retryable errors."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from service import PermanentError, RetryableError
from service.jobs.retry_policies import REMOTE_WRITE, is_retryable, retry_delay


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    lows = [retry_delay(REMOTE_WRITE, n, uniform=lambda a, b: a) for n in range(12)]
    highs = [retry_delay(REMOTE_WRITE, n, uniform=lambda a, b: b) for n in range(12)]
    assert lows[:4] == [1, 2, 4, 8] and highs[:4] == [2, 4, 8, 16]
    assert max(highs) == REMOTE_WRITE.cap_seconds
    assert all(low <= high for low, high in zip(lows, highs, strict=True))


def test_retry_after_wins_within_its_limit() -> None:
    assert retry_delay(REMOTE_WRITE, 5, retry_after=0) == 0
    assert retry_delay(REMOTE_WRITE, 0, retry_after=30.2) == 31
    assert retry_delay(REMOTE_WRITE, 0, retry_after=10**9) == REMOTE_WRITE.max_retry_after_seconds


def test_which_errors_are_retried() -> None:
    assert is_retryable(RetryableError("503"))
    assert is_retryable(TimeoutError()) and is_retryable(ConnectionResetError())
    assert is_retryable(OperationalError("select 1", {}, Exception("database restarting")))
    assert not is_retryable(PermanentError("422"))
    assert not is_retryable(KeyError("a bug"))
