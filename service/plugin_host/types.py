"""The values plugins receive and return: tickets, results, webhook events and their settings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import msgspec

__all__ = [
    "AttachResult",
    "CreatedIssue",
    "IssueRequest",
    "MissingRecording",
    "PluginNotConfigured",
    "PluginSettings",
    "SettingSpec",
    "TicketEvent",
    "TicketProvider",
    "TicketRef",
    "WebhookRequest",
    "plugin_env_prefix",
]

ENV_PREFIX = "REPLAYDESK_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def plugin_env_prefix(plugin: str) -> str:
    """The environment prefix of a plugin's settings: `REPLAYDESK_<PLUGIN>_`."""
    return f"{ENV_PREFIX}{plugin.upper().replace('-', '_').replace('.', '_')}_"


class TicketProvider(msgspec.Struct, frozen=True, kw_only=True):
    """A helpdesk or tracker a plugin writes to, named as it appears in URLs and requests."""

    name: str
    """Lower-case identifier: `POST /webhooks/{name}`, `{"provider": name}` in attach requests."""
    title: str = ""
    """How people call it (`"Zendesk"`); defaults to the name."""
    no_recording_note: bool = False
    """Write a short note into tickets whose customer has no recorded session
    (`replaydesk_attach_no_recording`); without it such tickets are left alone."""


class TicketRef(msgspec.Struct, frozen=True, kw_only=True):
    """One ticket (or issue) of one provider."""

    provider: str
    ticket_id: str


class AttachResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a plugin created on the remote side when it attached a report."""

    remote_id: str
    """The remote object's id (comment id, note id, ...)."""
    kind: str = "comment"
    """What was created: `comment`, `internal_note`, `attachment`, ..."""
    url: str | None = None
    """Where a person can see it, when the remote side has such a URL."""


class TicketEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An inbound webhook, parsed: which ticket, whose session, and whether to attach a report."""

    ticket: TicketRef
    user_id: str | None = None
    """The customer's user ID as the recorder knows it (ReplayDesk picks their session)."""
    session_id: str | None = None
    """A session named by the ticket itself; wins over `user_id` when both are given."""
    created_at: datetime | None = None
    """When the ticket was opened: the session active then (or ended last before) is chosen."""
    attach: bool = True
    """False for events that need no report (a status change, a support agent's reply, ...)."""
    requester: str | None = None
    """The provider's own id of the person who opened the ticket, for payloads that do not
    carry the user ID: it is resolved inside a job by `replaydesk_resolve_user`."""
    delivery_id: str | None = None
    """The vendor's id of this delivery, the same on its retries: a delivery seen before is
    acknowledged and changes nothing."""


class MissingRecording(msgspec.Struct, frozen=True, kw_only=True):
    """A ticket whose customer has no recorded session to report."""

    user_id: str | None
    """The customer's user ID (None only when the user was erased since)."""
    reason: str
    """Why there is no report, for people: `no session of user u42 was recorded before the
    ticket was opened`."""
    ticket_created_at: datetime | None
    marker: str
    """Write it into the note, like `ReplayReport.marker`, to find it on a retry."""


class IssueRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A request to open a new issue (a bug) from a session."""

    summary: str | None = None
    """The issue's title; None lets the plugin write one from the report."""
    project: str | None = None
    """The project to file it in; None means the plugin's configured default."""
    issue_type: str | None = None
    """The issue type's name (`Bug`); None means the plugin's configured default."""
    marker: str = ""
    """Identifies this request; it starts with `replaydesk-issue-`. Write it into the issue (a
    label, a property): the issue's own "created" webhook can then tell that the issue carries
    its report already, and a retry can find the issue."""
    may_exist: bool = True
    """Whether an earlier attempt at this request may have opened the issue (it started and
    did not finish with an error saying it opened nothing: see `RemoteError.may_have_written`).
    Look for an issue carrying `marker` before opening one only when True."""


class CreatedIssue(msgspec.Struct, frozen=True, kw_only=True):
    """An issue a plugin opened."""

    ticket_id: str
    """The issue's key or id, as attach requests and webhooks name it (`SHOP-12`)."""
    url: str | None = None
    """Where a person opens it."""


class WebhookRequest(msgspec.Struct, frozen=True, kw_only=True):
    """An inbound webhook exactly as it arrived, before anything was parsed."""

    provider: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes
    """The raw body: verify signatures over these bytes, not over re-encoded JSON."""
    received_at: datetime


class SettingSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One setting a plugin reads, from `REPLAYDESK_<PLUGIN>_<NAME>`."""

    name: str
    """The part after the plugin prefix, upper case: `URL` for `REPLAYDESK_TASKBOARD_URL`."""
    description: str
    required: bool = False
    """A plugin with a required setting unset stays idle: loaded, but none of its hooks run."""
    secret: bool = False
    """Never printed, only whether it is set."""
    default: str | None = None


class PluginNotConfigured(Exception):
    """A plugin asked for a setting nobody set."""

    def __init__(self, variable: str) -> None:
        super().__init__(f"{variable} is not set")
        self.variable = variable


class PluginSettings(msgspec.Struct, frozen=True, kw_only=True):
    """One plugin's own settings: the `REPLAYDESK_<PLUGIN>_*` variables, prefix removed.

    Names are case-insensitive: `settings.get("url")` reads `REPLAYDESK_<PLUGIN>_URL`.
    """

    plugin: str
    values: Mapping[str, str] = msgspec.field(default_factory=dict)
    specs: tuple[SettingSpec, ...] = ()

    def env_name(self, name: str) -> str:
        """The environment variable behind a setting name."""
        return plugin_env_prefix(self.plugin) + name.upper()

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value, else the declared default, else `default`."""
        key = name.upper()
        value = self.values.get(key)
        if value is not None:
            return value
        for spec in self.specs:
            if spec.name.upper() == key and spec.default is not None:
                return spec.default
        return default

    def require(self, name: str) -> str:
        """The value; `PluginNotConfigured` naming the variable when it is unset."""
        value = self.get(name)
        if value is None:
            raise PluginNotConfigured(self.env_name(name))
        return value

    def get_float(self, name: str, default: float) -> float:
        """A number setting; `default` when unset, ValueError naming the variable if malformed."""
        value = self.get(name)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{self.env_name(name)} must be a number, not {value!r}") from None

    def get_bool(self, name: str, default: bool) -> bool:
        """A true/false setting (`true/false`, `yes/no`, `on/off`, `1/0`); `default` when unset,
        ValueError naming the variable if it is anything else."""
        value = self.get(name)
        if value is None or not value.strip():
            return default
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ValueError(f"{self.env_name(name)} must be true or false")

    def missing(self) -> list[str]:
        """Environment variables of required settings that are unset."""
        return [
            self.env_name(spec.name)
            for spec in self.specs
            if spec.required and self.get(spec.name) is None
        ]
