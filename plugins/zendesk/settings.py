"""The Zendesk plugin's settings: what it declares, and the checked configuration it runs with."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from plugins.zendesk.requesters import LOOKUP_FIELDS
from service import PluginNotConfigured, PluginSettings, SettingSpec

__all__ = ["SETTINGS", "ConfigError", "ZendeskConfig", "load_config"]

SETTINGS = (
    SettingSpec(
        name="URL",
        description="your Zendesk address, https://{subdomain}.zendesk.com",
        required=True,
    ),
    SettingSpec(
        name="WEBHOOK_SECRET",
        description="the signing secret of the Zendesk webhook (Admin Center > Webhooks)",
        required=True,
        secret=True,
    ),
    SettingSpec(name="EMAIL", description="the agent whose API token writes the notes"),
    SettingSpec(name="API_TOKEN", description="that agent's API token", secret=True),
    SettingSpec(
        name="OAUTH_TOKEN",
        description="an OAuth access token, instead of EMAIL and API_TOKEN",
        secret=True,
    ),
    SettingSpec(
        name="USER_LOOKUP",
        description="requester fields holding the customer's user ID, in order of preference",
        default="external_id,email",
    ),
    SettingSpec(
        name="NO_RECORDING_NOTE",
        description="true: write a short note when the customer has no recorded session",
        default="false",
    ),
    SettingSpec(
        name="WEBHOOK_WINDOW_SECONDS",
        description="how far a webhook's signature timestamp may be from now",
        default="300",
    ),
)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable, never a value."""


@dataclass(frozen=True)
class ZendeskConfig:
    """The plugin's settings, checked and ready to use."""

    url: str
    """`https://{subdomain}.zendesk.com`, without a trailing slash."""
    webhook_secret: str = field(repr=False)
    authorization: str = field(repr=False)
    """The `Authorization` header value: API-token basic auth or an OAuth bearer token."""
    user_lookup: tuple[str, ...]
    no_recording_note: bool
    webhook_window_seconds: float

    def ticket_url(self, ticket_id: str) -> str:
        """Where an agent opens the ticket."""
        return f"{self.url}/agent/tickets/{quote(ticket_id, safe='')}"


def _url(settings: PluginSettings) -> str:
    url = settings.require("URL").strip().rstrip("/")
    parts = urlsplit(url)
    # The API token travels with every request: never over plain HTTP, never to a path prefix.
    if parts.scheme != "https" or not parts.hostname or parts.path or parts.query:
        raise ConfigError(f"{settings.env_name('URL')} must look like https://acme.zendesk.com")
    return url


def _authorization(settings: PluginSettings) -> str:
    oauth = settings.get("OAUTH_TOKEN")
    if oauth:
        return f"Bearer {oauth}"
    token = settings.get("API_TOKEN")
    if not token:
        raise ConfigError(
            f"{settings.env_name('API_TOKEN')} (or {settings.env_name('OAUTH_TOKEN')}) is not set"
        )
    email = settings.get("EMAIL")
    if not email:
        raise ConfigError(f"{settings.env_name('EMAIL')} is not set (the API token's agent)")
    credentials = base64.b64encode(f"{email}/token:{token}".encode()).decode()
    return f"Basic {credentials}"


def _user_lookup(settings: PluginSettings) -> tuple[str, ...]:
    fields = tuple(part.strip() for part in (settings.get("USER_LOOKUP") or "").split(","))
    if not all(part in LOOKUP_FIELDS for part in fields):
        raise ConfigError(
            f"{settings.env_name('USER_LOOKUP')} must list fields among "
            f"{', '.join(LOOKUP_FIELDS)}, separated by commas"
        )
    return fields


def _flag(settings: PluginSettings, name: str) -> bool:
    try:
        return settings.get_bool(name, default=False)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _window(settings: PluginSettings) -> float:
    try:
        seconds = settings.get_float("WEBHOOK_WINDOW_SECONDS", 300.0)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not 0 < seconds < math.inf:
        raise ConfigError(f"{settings.env_name('WEBHOOK_WINDOW_SECONDS')} must be positive")
    return seconds


def load_config(settings: PluginSettings) -> ZendeskConfig:
    """The checked configuration; `ConfigError` naming the first variable that is wrong."""
    try:
        return ZendeskConfig(
            url=_url(settings),
            webhook_secret=settings.require("WEBHOOK_SECRET"),
            authorization=_authorization(settings),
            user_lookup=_user_lookup(settings),
            no_recording_note=_flag(settings, "NO_RECORDING_NOTE"),
            webhook_window_seconds=_window(settings),
        )
    except PluginNotConfigured as exc:
        raise ConfigError(str(exc)) from None
