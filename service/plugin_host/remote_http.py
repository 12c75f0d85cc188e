"""One httpx call to a remote API, with failures mapped to retryable or permanent errors."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from service.plugin_host.remote_classifiers import ResponseClassifier
from service.plugin_host.remote_errors import RetryableError, error_for_status, rate_limit_wait

__all__ = ["DEFAULT_TIMEOUT", "remote_client", "remote_request"]

# A tracker that has not answered in 10 s is better retried later than waited for.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Failures before a request left: no connection was made (refused, or none within the connect
# timeout) or none was free in the pool. A read timeout or a dropped connection may come after.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Enough of an error body to say what the remote side disliked, short enough for a log line.
DETAIL_CHARS = 300


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client of the process: building one reads the whole CA
    bundle, which cost an attach job more than its own work when each call made a client."""
    return httpx.create_ssl_context()


def remote_client(
    base_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> httpx.Client:
    """An httpx client for a remote API: `DEFAULT_TIMEOUT`, and the process's one TLS context
    (httpx's defaults: certifi's CA bundle, or `SSL_CERT_FILE`). Use it as a context manager."""
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, verify=_tls())


def remote_request(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    what: str | None = None,
    classify: ResponseClassifier | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; return the 2xx/3xx response or raise a `RemoteError`.

    Timeouts and connection failures raise `RetryableError`, as do 5xx, 408, 425 and 429
    (with the wait `Retry-After` or the rate-limit reset headers ask for); other 4xx raise
    `PermanentError`. `classify`, when given, reads every answer first: the `RemoteError` it
    returns is raised, None leaves the answer to those rules (see `remote_classifiers`).
    `what` names the call in messages (default: the method and the URL's path).

    The error's `may_have_written` is False when the request provably was not processed: no
    connection was made (refused, connect or pool timeout), or the answer was a 4xx or 503.
    A read timeout, a dropped connection or another 5xx may come after the remote side wrote.
    """
    label = what or f"{method} {httpx.URL(url).path}"
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise RetryableError(
            f"{label} timed out ({type(exc).__name__})",
            may_have_written=not isinstance(exc, _NOT_SENT),
        ) from exc
    except httpx.TransportError as exc:
        raise RetryableError(
            f"{label} failed: {type(exc).__name__}: {exc}",
            may_have_written=not isinstance(exc, _NOT_SENT),
        ) from exc
    if classify is not None:
        classified = classify(response)
        if classified is not None:
            raise classified
    error = error_for_status(
        response.status_code,
        label,
        response.text[:DETAIL_CHARS].strip(),
        rate_limit_wait(response.headers),
    )
    if error is not None:
        raise error
    return response
