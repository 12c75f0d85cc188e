"""Named retry policies: which failures a job retries, and after how long."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import msgspec
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError

from service.plugin_host.remote_errors import RetryableError

__all__ = [
    "POLICIES",
    "REMOTE_WRITE",
    "RetryPolicy",
    "is_retryable",
    "retry_delay",
]


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How often and how patiently a kind of job is retried."""

    name: str
    max_retries: int
    """Retries after the first attempt; the next failure after them is final."""
    base_seconds: float
    """The first backoff; each retry doubles it, up to `cap_seconds`."""
    cap_seconds: float
    max_retry_after_seconds: float
    """The longest `Retry-After` honoured as asked; longer ones wait this long."""


# Trackers are down for minutes, not hours: 10 retries doubling from 2 s to a 15-minute cap
# keep trying for about an hour and a half before the job shows as failed.
REMOTE_WRITE = RetryPolicy(
    name="remote-write",
    max_retries=10,
    base_seconds=2.0,
    cap_seconds=900.0,
    max_retry_after_seconds=3600.0,
)
POLICIES = {policy.name: policy for policy in (REMOTE_WRITE,)}


def is_retryable(error: BaseException) -> bool:
    """Whether trying again can help: remote "not now" answers, timeouts, lost connections.

    Everything else (a 4xx that will not change, a bug) fails at once.
    """
    return isinstance(
        error,
        RetryableError
        | TimeoutError
        | ConnectionError
        | RedisConnectionError
        | RedisTimeoutError
        | OperationalError,
    )


def retry_delay(
    policy: RetryPolicy,
    retries_so_far: int,
    retry_after: float | None = None,
    uniform: Callable[[float, float], float] = random.uniform,
) -> int:
    """Whole seconds to wait before the next try (RQ schedules in seconds).

    A `Retry-After` the remote side sent is honoured (up to the policy's limit); otherwise the
    backoff doubles per retry, with "equal jitter": half of it fixed, half random, so many jobs
    failing together do not retry together.
    """
    if retry_after is not None:
        return math.ceil(min(max(retry_after, 0.0), policy.max_retry_after_seconds))
    backoff = min(policy.cap_seconds, policy.base_seconds * 2.0 ** max(0, retries_so_far))
    return max(1, math.ceil(backoff / 2 + uniform(0.0, backoff / 2)))
