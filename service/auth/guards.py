"""Route guards for the API-key and viewer-token schemes, and what a request's credential
lets it see."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from service.auth.scopes import ADMIN
from service.sessions.windows import SessionWindow
from service.viewer.tokens import ViewerClaims
from service.web.services import Services

__all__ = [
    "bearer_token",
    "granted_window",
    "needed_scope",
    "require_api_key",
    "require_api_key_or_viewer_token",
    "services_of",
    "viewer_claims",
]

# Where the guard leaves a viewer token's claims for the handler, in the request's own state.
_CLAIMS_STATE = "replaydesk_viewer_claims"


def services_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Services:
    """The process's services, set up by the app lifespan."""
    services: Services = connection.app.state.services
    return services


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def needed_scope(handler: BaseRouteHandler) -> str:
    """The scope a route needs of an API key: its `opt["scope"]`, `admin` when it names none."""
    return str(handler.opt.get("scope", ADMIN))


async def require_api_key(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Let the request through only with a live API key that holds the route's scope."""
    await services_of(connection).keys.check_api_key_for(
        bearer_token(connection), needed_scope(handler)
    )


def _looks_like_jwt(token: str) -> bool:
    return token.startswith("eyJ") and token.count(".") == 2


async def require_api_key_or_viewer_token(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Let the request through with an API key, or a viewer token for this very session.

    The route's `opt["viewer_access"]` names what the token is used for in the audit trail.
    """
    services = services_of(connection)
    token = bearer_token(connection)
    if token is None or not _looks_like_jwt(token):
        await services.keys.check_api_key_for(token, needed_scope(handler))
        return
    client = connection.client
    claims = await services.viewer_access.authorize(
        token,
        str(connection.path_params.get("session_id", "")),
        what=str(handler.opt.get("viewer_access", "session")),
        ip=client.host if client else None,
        user_agent=connection.headers.get("user-agent"),
    )
    connection.scope.setdefault("state", {})[_CLAIMS_STATE] = claims


def granted_window(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionWindow | None:
    """The only part of the session this request may see: its viewer token's window; None (the
    whole session) for an API key or a token without one. Nothing the request itself says
    (query, body) changes it."""
    claims = viewer_claims(connection)
    return None if claims is None else claims.window


def viewer_claims(connection: ASGIConnection[Any, Any, Any, Any]) -> ViewerClaims | None:
    """The verified viewer token of this request; None when an API key let it in."""
    claims = connection.scope.get("state", {}).get(_CLAIMS_STATE)
    return claims if isinstance(claims, ViewerClaims) else None
