"""Session lookup, search, events, report and user erasure (API key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream

from service.auth.guards import granted_window, services_of
from service.auth.scopes import SESSIONS_READ, USERS_ERASE
from service.errors import BadRequest, NotFound
from service.sessions.erasure import erase_user, lift_user_erasure
from service.sessions.reader import SessionEvidence, SessionList, SessionSummary
from service.storage.records import SessionFilters

__all__ = ["Time", "query_millis", "session_read_handlers", "session_route_handlers"]

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="At most this many sessions")]
Time = Annotated[
    str | None, QueryParameter(description="ISO 8601 time, or milliseconds since the epoch")
]


class Erased(msgspec.Struct, frozen=True, kw_only=True):
    """What an erasure removed."""

    user_id: str
    sessions_erased: int


class ErasureLifted(msgspec.Struct, frozen=True, kw_only=True):
    """A user whose batches are stored again."""

    user_id: str
    lifted: bool


_MAX_MILLIS_DIGITS = 15


def query_millis(name: str, value: str | None) -> int | None:
    """A time parameter as milliseconds since the epoch (None when not given); a 400 that
    names the parameter when it is neither an ISO 8601 time with a zone nor milliseconds."""
    if value is None or value == "":
        return None
    # ASCII only: "²" is a digit to str.isdigit, not to int(); and the database's integers stop
    # at 2**63 (a year far beyond any session).
    if value.isascii() and value.isdigit():
        if len(value) > _MAX_MILLIS_DIGITS:
            raise BadRequest(f"{name}: {value[:40]!r}… is too far in the future")
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"{name}: {value!r} is neither an ISO 8601 time nor milliseconds since the epoch"
        ) from None
    if moment.tzinfo is None:
        raise BadRequest(f"{name}: {value!r} needs a time zone (e.g. a trailing Z)")
    return int(moment.timestamp() * 1000)


@get(
    "/api/v1/users/{user_id:str}/sessions",
    opt={"scope": SESSIONS_READ},
    summary="A user's sessions, newest first",
)
async def list_user_sessions(
    request: Request[Any, Any, Any], user_id: FromPath[str], limit: Limit = 50, before: Time = None
) -> SessionList:
    """Sessions recorded under this user ID, newest first; page with `before`."""
    filters = SessionFilters(user_id=user_id, limit=limit, before=query_millis("before", before))
    return await services_of(request).reader.search(filters)


@get(
    "/api/v1/users/{user_id:str}/sessions/latest",
    opt={"scope": SESSIONS_READ},
    summary="A user's newest session",
)
async def latest_user_session(
    request: Request[Any, Any, Any], user_id: FromPath[str]
) -> SessionSummary:
    """The newest session of this user; 404 when none was recorded."""
    return await services_of(request).reader.latest_for_user(user_id)


@delete(
    "/api/v1/users/{user_id:str}",
    status_code=200,
    opt={"scope": USERS_ERASE},
    summary="Erase a user",
)
async def erase_user_route(request: Request[Any, Any, Any], user_id: FromPath[str]) -> Erased:
    """Erase every session and event chunk of this user; their future batches are refused."""
    services = services_of(request)
    erased = await erase_user(
        services.store, services.blobs, services.ingestor.erasure_keys, user_id
    )
    return Erased(user_id=user_id, sessions_erased=erased)


@delete(
    "/api/v1/erasures/users/{user_id:str}",
    status_code=200,
    summary="Lift a user's erasure",
)
async def lift_user_erasure_route(
    request: Request[Any, Any, Any], user_id: FromPath[str]
) -> ErasureLifted:
    """Store this user's batches again (an erasure refuses them for good); what was erased
    stays erased. 404 when no erasure of this user ID is recorded."""
    services = services_of(request)
    if not await lift_user_erasure(services.store, services.ingestor.erasure_keys, user_id):
        raise NotFound(f"no erasure of user {user_id!r} is recorded: their batches are stored")
    return ErasureLifted(user_id=user_id, lifted=True)


@get("/api/v1/sessions", opt={"scope": SESSIONS_READ}, summary="Search sessions")
async def search_sessions(
    request: Request[Any, Any, Any],
    user_id: FromQuery[str | None] = None,
    url: Annotated[str | None, QueryParameter(description="Substring of a visited URL")] = None,
    has_errors: FromQuery[bool | None] = None,
    has_rage_clicks: FromQuery[bool | None] = None,
    browser: Annotated[
        str | None, QueryParameter(description="Browser name, like Chrome (any case)")
    ] = None,
    os: Annotated[
        str | None, QueryParameter(description="OS name, like Windows (any case)")
    ] = None,
    release: Annotated[
        str | None, QueryParameter(description="The site's release, as init() gave it")
    ] = None,
    since: Time = None,
    until: Time = None,
    before: Time = None,
    limit: Limit = 50,
) -> SessionList:
    """Sessions matching every given filter, newest first."""
    filters = SessionFilters(
        user_id=user_id,
        url=url,
        has_errors=has_errors,
        has_rage_clicks=has_rage_clicks,
        browser=browser,
        os=os,
        release=release,
        since=query_millis("since", since),
        until=query_millis("until", until),
        before=query_millis("before", before),
        limit=limit,
    )
    return await services_of(request).reader.search(filters)


@get(
    "/api/v1/sessions/{session_id:str}",
    summary="One session's summary",
    opt={"viewer_access": "summary", "scope": SESSIONS_READ},
)
async def session_summary(
    request: Request[Any, Any, Any], session_id: FromPath[str]
) -> SessionSummary:
    """User, start and end, duration, pages, counts and first error time of a session; for a
    windowed viewer link, of its window (`window` says which part)."""
    return await services_of(request).reader.summary(session_id, granted_window(request))


@get(
    "/api/v1/sessions/{session_id:str}/events",
    summary="A session's rrweb events",
    opt={"viewer_access": "events", "scope": SESSIONS_READ},
)
async def session_events(
    request: Request[Any, Any, Any], session_id: FromPath[str]
) -> Response[Any]:
    """Every rrweb event of the session in recording order, as one streamed JSON array; for a
    windowed viewer link, the events that replay its window alone."""
    chunks = await services_of(request).reader.stream_events(session_id, granted_window(request))
    return Stream(chunks, media_type="application/json")


@get(
    "/api/v1/sessions/{session_id:str}/report",
    summary="A session's evidence",
    opt={"viewer_access": "report", "scope": SESSIONS_READ},
)
async def session_report(
    request: Request[Any, Any, Any], session_id: FromPath[str]
) -> SessionEvidence:
    """Console errors with stacks, failed requests, rage and dead clicks, page views; for a
    windowed viewer link, those inside its window."""
    return await services_of(request).reader.evidence(session_id, granted_window(request))


# API key only.
session_route_handlers = [
    list_user_sessions,
    latest_user_session,
    erase_user_route,
    lift_user_erasure_route,
    search_sessions,
]
# API key, or a viewer token for the session in the path.
session_read_handlers = [session_summary, session_events, session_report]
