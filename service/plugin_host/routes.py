"""The plugins as the running service sees them (API key): `GET /api/v1/plugins`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, get

from service.auth.guards import services_of
from service.plugin_host.host import PluginStatus
from service.plugin_host.link_check import loopback_link_warning
from service.plugin_host.types import plugin_env_prefix

__all__ = ["PluginSettingView", "PluginView", "plugin_route_handlers"]


class PluginSettingView(msgspec.Struct, frozen=True, kw_only=True):
    """One declared setting: whether it is set, never its value."""

    name: str
    variable: str
    """The environment variable that sets it, e.g. `REPLAYDESK_ZENDESK_URL`."""
    required: bool
    secret: bool
    set: bool
    default: str | None
    """Shown for settings that are not secret."""
    description: str


class PluginView(msgspec.Struct, frozen=True, kw_only=True):
    """One plugin: loaded from where, in which state, with which hooks and settings."""

    name: str
    version: str | None
    distribution: str | None
    state: str
    """`active`, `idle` (a required setting is unset), `disabled` or `failed` (to load)."""
    detail: str | None
    provider: str | None
    """The ticket provider name it serves (`zendesk`, `jira`, ...), if any."""
    provider_title: str | None
    hooks: list[str]
    settings: list[PluginSettingView]
    last_error: str | None
    """The error type (and HTTP status) of the last failed hook call in this process."""
    last_error_at: datetime | None
    warning: str | None = None
    """Something an admin should fix although the plugin runs: for an active ticket
    provider, replay links on a loopback public URL."""


def plugin_view(status: PluginStatus, public_url: str | None = None) -> PluginView:
    """What the API shows of one plugin's status; with `public_url` (the one its ticket links
    are built on), a warning when an active provider's links would open only locally."""
    prefix = plugin_env_prefix(status.name)
    provides = status.state == "active" and status.provider is not None
    return PluginView(
        warning=loopback_link_warning(public_url) if public_url and provides else None,
        name=status.name,
        version=status.version,
        distribution=status.distribution,
        state=status.state,
        detail=status.detail,
        provider=status.provider.name if status.provider else None,
        provider_title=(status.provider.title or status.provider.name) if status.provider else None,
        hooks=status.hooks,
        settings=[
            PluginSettingView(
                name=spec.name,
                variable=prefix + spec.name.upper(),
                required=spec.required,
                secret=spec.secret,
                set=spec.name in status.settings_set,
                default=None if spec.secret else spec.default,
                description=spec.description,
            )
            for spec in status.settings
        ],
        last_error=status.last_error,
        last_error_at=status.last_error_at,
    )


@get("/api/v1/plugins", summary="Installed plugins as this service runs them")
async def list_plugins(request: Request[Any, Any, Any]) -> list[PluginView]:
    """Each plugin's state, hooks and settings (set or not, never their values), and the last
    error one of its hooks raised in this process."""
    services = services_of(request)
    public_url = services.settings.public_url
    return [plugin_view(status, public_url) for status in services.plugins.statuses()]


plugin_route_handlers = [list_plugins]
