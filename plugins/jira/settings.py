"""The Jira plugin's settings: what it declares, and the checked configuration it runs with."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from service import PluginSettings, SettingSpec

__all__ = ["SETTINGS", "ConfigError", "JiraConfig", "load_config"]

# Jira retries a failed delivery for a while, each time with the body (and its timestamp)
# of the first attempt: an hour lets those retries in, and still turns away old captures.
DEFAULT_MAX_AGE_SECONDS = 3600.0

SETTINGS = (
    SettingSpec(
        name="URL",
        description="your Jira site, https://{site}.atlassian.net",
        required=True,
    ),
    SettingSpec(
        name="SITE_URL",
        description="where people open issues, when URL is the OAuth API address "
        "(https://api.atlassian.com/ex/jira/{cloudId}); default: URL",
    ),
    SettingSpec(
        name="WEBHOOK_SECRET",
        description="the secret of the Jira admin webhook (System > WebHooks)",
        required=True,
        secret=True,
    ),
    SettingSpec(name="EMAIL", description="the Atlassian account that writes the comments"),
    SettingSpec(name="API_TOKEN", description="that account's API token", secret=True),
    SettingSpec(
        name="OAUTH_TOKEN",
        description="a bearer token, instead of EMAIL and API_TOKEN",
        secret=True,
    ),
    SettingSpec(
        name="USER_FIELD",
        description="the issue field holding the customer's user ID, e.g. customfield_10050",
    ),
    SettingSpec(name="PROJECT", description="project key of the bugs opened from a session"),
    SettingSpec(
        name="ISSUE_TYPE", description="issue type of the bugs opened from a session", default="Bug"
    ),
    SettingSpec(
        name="NO_RECORDING_NOTE",
        description="true: comment on issues whose customer has no recorded session",
        default="false",
    ),
    SettingSpec(
        name="WEBHOOK_MAX_AGE_SECONDS",
        description="how old a webhook's timestamp may be (Jira retries with the first one)",
        default=str(int(DEFAULT_MAX_AGE_SECONDS)),
    ),
)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable, never a value."""


@dataclass(frozen=True)
class JiraConfig:
    """The plugin's settings, checked and ready to use."""

    url: str
    """`https://{site}.atlassian.net` (or the OAuth API address), without a trailing slash."""
    site_url: str
    """Where people open issues: `https://{site}.atlassian.net`."""
    webhook_secret: str = field(repr=False)
    authorization: str = field(repr=False)
    """The `Authorization` header: API-token basic auth, or a bearer token."""
    user_field: str | None
    project: str | None
    issue_type: str
    no_recording_note: bool
    webhook_max_age_seconds: float

    def browse_url(self, key: str, comment_id: str | None = None) -> str:
        """Where a person opens the issue, scrolled to the comment when one is named."""
        url = f"{self.site_url}/browse/{quote(key, safe='')}"
        return url if comment_id is None else f"{url}?focusedCommentId={quote(comment_id)}"


def _url(settings: PluginSettings, name: str = "URL") -> str:
    url = (settings.get(name) or "").strip().rstrip("/")
    parts = urlsplit(url)
    # The credentials travel with every request: never over plain HTTP.
    if parts.scheme != "https" or not parts.netloc:
        raise ConfigError(f"{settings.env_name(name)} must be an https:// URL of your Jira site")
    return url


def _authorization(settings: PluginSettings) -> str:
    token = settings.get("OAUTH_TOKEN")
    if token:
        return f"Bearer {token}"
    for name in ("EMAIL", "API_TOKEN"):
        if not settings.get(name):
            raise ConfigError(
                f"{settings.env_name(name)} is not set "
                f"(nor {settings.env_name('OAUTH_TOKEN')}): Jira cannot be called"
            )
    basic = base64.b64encode(f"{settings.get('EMAIL')}:{settings.get('API_TOKEN')}".encode())
    return f"Basic {basic.decode()}"


def _flag(settings: PluginSettings, name: str) -> bool:
    try:
        return settings.get_bool(name, default=False)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _seconds(settings: PluginSettings, name: str) -> float:
    try:
        seconds = settings.get_float(name, DEFAULT_MAX_AGE_SECONDS)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not seconds > 0:
        raise ConfigError(f"{settings.env_name(name)} must be a positive number of seconds")
    return seconds


def load_config(settings: PluginSettings) -> JiraConfig:
    """The checked configuration; `ConfigError` naming the first variable to fix."""
    secret = settings.get("WEBHOOK_SECRET")
    if not secret:
        raise ConfigError(f"{settings.env_name('WEBHOOK_SECRET')} is not set")
    url = _url(settings)
    return JiraConfig(
        url=url,
        site_url=_url(settings, "SITE_URL") if settings.get("SITE_URL") else url,
        webhook_secret=secret,
        authorization=_authorization(settings),
        user_field=(settings.get("USER_FIELD") or "").strip() or None,
        project=(settings.get("PROJECT") or "").strip() or None,
        issue_type=(settings.get("ISSUE_TYPE") or "").strip() or "Bug",
        no_recording_note=_flag(settings, "NO_RECORDING_NOTE"),
        webhook_max_age_seconds=_seconds(settings, "WEBHOOK_MAX_AGE_SECONDS"),
    )
