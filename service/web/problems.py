"""One mapping from exceptions to `application/problem+json` responses."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from service.errors import ReplayDeskError
from service.log_redaction import exception_summary, redacted_traceback

__all__ = ["exception_handlers", "problem_response"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


def problem_response(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    """An RFC 9457 problem document."""
    return Response(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _domain_error(_: Request[Any, Any, Any], exc: ReplayDeskError) -> Response[dict[str, Any]]:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
    if exc.retry_after_seconds is not None:
        headers["Retry-After"] = str(exc.retry_after_seconds)
    return problem_response(exc.status_code, exc.title, exc.detail, headers or None)


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    detail = exc.detail
    if isinstance(exc, ValidationException) and exc.extra:
        parts = [
            f"{item.get('key', '?')}: {item.get('message', '')}"
            for item in exc.extra
            if isinstance(item, dict)
        ]
        detail = f"{detail}: {'; '.join(parts)}" if parts else detail
    title = detail if exc.status_code != 400 else "Bad request"
    return problem_response(exc.status_code, title, detail, exc.headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # The route's template, never the path (it holds user and session IDs) nor the query (it
    # can carry an ingest key); the traceback without the exception's message, which can
    # quote the same data (an SQL error lists its parameters).
    log.error(
        "%s %s %d: unhandled %s\n%s",
        request.method,
        request.scope.get("path_template") or "(no route)",
        HTTP_500_INTERNAL_SERVER_ERROR,
        exception_summary(exc),
        redacted_traceback(exc),
    )
    return problem_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal error",
        "the service hit an unexpected error; it was logged. Retry, or ask an admin to look.",
    )


exception_handlers: dict[type[Exception], Any] = {
    ReplayDeskError: _domain_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
