"""`GET /api/v1/errors` and `GET /api/v1/errors/{fingerprint}/sessions` (API key)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.params import FromPath, QueryParameter

from service.auth.guards import services_of
from service.auth.scopes import SESSIONS_READ
from service.error_groups.groups import ErrorGroupList, ErrorGroups, ErrorGroupSessions, ErrorKind
from service.sessions.routes import Time, query_millis

__all__ = ["error_group_route_handlers"]

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="At most this many")]
Cursor = Annotated[
    str | None,
    QueryParameter(max_length=200, description="`next_cursor` of the previous page"),
]


def _groups(request: Request[Any, Any, Any]) -> ErrorGroups:
    services = services_of(request)
    return ErrorGroups(services.store.errors, services.reader)


@get("/api/v1/errors", opt={"scope": SESSIONS_READ}, summary="Error groups across sessions")
async def list_error_groups(
    request: Request[Any, Any, Any],
    since: Time = None,
    until: Time = None,
    release: Annotated[
        str | None, QueryParameter(max_length=128, description="The release, as init() gave it")
    ] = None,
    url: Annotated[
        str | None,
        QueryParameter(max_length=2000, description="Substring of a page of the session"),
    ] = None,
    kind: Annotated[
        ErrorKind | None, QueryParameter(description="console_error or failed_request")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ErrorGroupList:
    """Errors by fingerprint with an occurrence in the window, last seen first: how often, how
    many users and sessions, first and last seen, the latest release."""
    return await _groups(request).groups(
        since=query_millis("since", since),
        until=query_millis("until", until),
        release=release,
        url=url,
        kind=kind,
        limit=limit,
        cursor=cursor,
    )


@get(
    "/api/v1/errors/{fingerprint:str}/sessions",
    opt={"scope": SESSIONS_READ},
    summary="The sessions of one error group",
)
async def error_group_sessions(
    request: Request[Any, Any, Any],
    fingerprint: FromPath[str],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ErrorGroupSessions:
    """Sessions that hit this error, by their last occurrence, newest first; 404 when none."""
    return await _groups(request).sessions(fingerprint, limit=limit, cursor=cursor)


error_group_route_handlers = [list_error_groups, error_group_sessions]
