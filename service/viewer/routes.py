"""The replay page, its bundles, and minting, revoking and auditing viewer links."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from service.auth.guards import require_api_key, services_of
from service.auth.scopes import LINKS_CREATE
from service.clock import now_ms
from service.errors import BadRequest, Conflict, NotFound
from service.sessions.reader import is_recording, shown_window, to_datetime
from service.sessions.windows import ShownWindow
from service.storage.records import SessionRecord
from service.viewer.link_windows import LinkWindow, requested_window, resolve_window
from service.viewer.tokens import MAX_TTL_SECONDS, MIN_TTL_SECONDS
from service.web.static_bundles import bundle_response

__all__ = ["viewer_route_handlers"]

# The page runs only its own script. Replayed documents are rebuilt as inline <style>
# elements (rrweb inlines recorded CSS), so inline styles are allowed; recorded images and
# fonts load from wherever the customer's site had them.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src * data: blob:; font-src * data:; media-src * data: blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
)
_PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Replay</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/viewer.css">
<script src="/viewer.js" defer></script>
</head>
<body>
<noscript>The replay needs JavaScript.</noscript>
</body>
</html>
"""


# A provider's name, a colon, and a ticket ID without control characters.
TICKET_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}:[^\x00-\x1f\x7f]{1,256}\Z"


class LinkRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Options of a minted viewer link."""

    ttl_seconds: Annotated[int, msgspec.Meta(ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS)] | None = None
    open_at: Literal["first-error"] | None = None
    window: LinkWindow | None = None
    """Only this part of the session (see `service.viewer.link_windows`)."""
    live: bool = False
    """A link that follows the session as it is recorded (the session must still be)."""
    ticket: Annotated[str, msgspec.Meta(pattern=TICKET_PATTERN)] | None = None
    """`provider:ticket_id` the link is for: its views are audited under that ticket, and
    `POST /api/v1/links/revoke` with the ticket revokes it with the ticket's other links."""


class MintedLink(msgspec.Struct, frozen=True, kw_only=True):
    """A minted link: the page URL with the token in its fragment."""

    url: str
    token: str
    expires_at: datetime
    jti: str
    window: ShownWindow | None = None
    """The part of the session the link shows, when a window was asked for."""


class RevokeRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Revoke one link by its jti, or every link of a ticket (`provider:ticket_id`)."""

    jti: str | None = None
    ticket: str | None = None


class Revoked(msgspec.Struct, frozen=True, kw_only=True):
    """What a revocation covered."""

    jti: str | None
    ticket: str | None


class TokenUse(msgspec.Struct, frozen=True, kw_only=True):
    """One use of a viewer link."""

    jti: str
    ticket: str | None
    used_at: datetime
    ip: str | None
    user_agent: str | None
    what: str


class TokenUses(msgspec.Struct, frozen=True, kw_only=True):
    """Who opened a session through viewer links, newest first."""

    session_id: str
    uses: list[TokenUse]


@get("/replay/{session_id:str}", summary="The replay page", include_in_schema=True)
async def replay_page(
    request: Request[Any, Any, Any], session_id: FromPath[str]
) -> Response[bytes]:
    """The viewer; it reads its token from the URL fragment (`#t=`), which servers never see."""
    ancestors = services_of(request).settings.viewer_frame_ancestors
    return Response(
        _PAGE,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": _CSP.format(ancestors=ancestors),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Cross-Origin-Opener-Policy": "same-origin",
        },
    )


@get("/viewer.js", summary="The replay page's script", include_in_schema=False)
async def viewer_script(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The viewer bundle."""
    return bundle_response(
        request,
        "viewer.js",
        "text/javascript",
        {"X-Content-Type-Options": "nosniff"},
    )


@get("/viewer.css", summary="The replay page's styles", include_in_schema=False)
async def viewer_styles(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The viewer styles."""
    return bundle_response(request, "viewer.css", "text/css", {"X-Content-Type-Options": "nosniff"})


@post(
    "/api/v1/sessions/{session_id:str}/links",
    status_code=201,
    guards=[require_api_key],
    opt={"scope": LINKS_CREATE},
    summary="Mint a viewer link",
)
async def mint_link(
    request: Request[Any, Any, Any],
    session_id: FromPath[str],
    data: JSONBody[LinkRequest | None] = None,
) -> MintedLink:
    """A short-lived link that opens this one session (default TTL: minutes): `url`, `token`
    (also inside `url`, after `#t=`), `expires_at`, `jti`; with `window`, a link to that part
    of the session only, and the `window` it resolved to."""
    services = services_of(request)
    session = await services.store.get(session_id)
    if session is None:
        raise NotFound(f"no session {session_id!r}")
    options = data or LinkRequest()
    if options.live:
        _check_live_request(options, session, services.settings.session_idle_timeout_seconds)
    asked = None if options.window is None else requested_window(await request.body())
    window = None if asked is None else resolve_window(asked, session)
    link = services.viewer_tokens.mint(
        session_id,
        options.ttl_seconds or services.settings.default_link_ttl_seconds,
        ticket=options.ticket,
        open_at=options.open_at,
        window=window,
        live=options.live,
    )
    return MintedLink(
        url=link.url,
        token=link.token,
        expires_at=link.expires_at,
        jti=link.jti,
        window=None if window is None else shown_window(window, session),
    )


def _check_live_request(options: LinkRequest, session: SessionRecord, idle_seconds: int) -> None:
    """A live link follows a session still being recorded, from wherever it is now."""
    if options.window is not None or options.open_at is not None:
        raise BadRequest("a live link follows the whole session: no window or open_at with live")
    if not is_recording(session, now_ms(), idle_seconds * 1000):
        raise Conflict(
            "the session is no longer being recorded (its page was left or it has been idle);"
            " mint a link without live to replay it"
        )


@post("/api/v1/links/revoke", status_code=200, guards=[require_api_key], summary="Revoke links")
async def revoke_links(request: Request[Any, Any, Any], data: JSONBody[RevokeRequest]) -> Revoked:
    """Revoke one viewer link (`jti`) or every link written into a ticket (`ticket`)."""
    if not data.jti and not data.ticket:
        raise BadRequest("give `jti` (one link) or `ticket` (`provider:ticket_id`, all its links)")
    await services_of(request).viewer_access.revoke(jti=data.jti, ticket=data.ticket)
    return Revoked(jti=data.jti, ticket=data.ticket)


@get(
    "/api/v1/sessions/{session_id:str}/views",
    guards=[require_api_key],
    summary="Who opened a session through viewer links",
)
async def session_views_audit(
    request: Request[Any, Any, Any],
    session_id: FromPath[str],
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
) -> TokenUses:
    """Every recorded use of viewer links for this session: jti, ticket, time, IP, browser."""
    records = await services_of(request).viewer_access.store.uses_of_session(session_id, limit)
    return TokenUses(
        session_id=session_id,
        uses=[
            TokenUse(
                jti=r.jti,
                ticket=r.ticket,
                used_at=to_datetime(r.used_at),
                ip=r.ip,
                user_agent=r.user_agent,
                what=r.what,
            )
            for r in records
        ],
    )


viewer_route_handlers = [
    replay_page,
    viewer_script,
    viewer_styles,
    mint_link,
    revoke_links,
    session_views_audit,
]
