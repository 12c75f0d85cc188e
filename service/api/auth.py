"""Route guards for the API-key scheme."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from service.services import Services

__all__ = ["bearer_token", "require_api_key", "services_of"]


def services_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Services:
    """The process's services, set up by the app lifespan."""
    services: Services = connection.app.state.services
    return services


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def require_api_key(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Let the request through only with a live API key."""
    await services_of(connection).keys.check_api_key(bearer_token(connection))
