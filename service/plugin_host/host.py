"""Calls plugin hooks: each plugin with its own settings, provider hooks only on their owner."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import pluggy

from service.errors import NotFound
from service.log_redaction import exception_summary
from service.plugin_host.manager import ReplayDeskPluginManager
from service.plugin_host.types import (
    AttachResult,
    CreatedIssue,
    IssueRequest,
    MissingRecording,
    PluginSettings,
    SettingSpec,
    TicketEvent,
    TicketProvider,
    TicketRef,
    WebhookRequest,
    plugin_env_prefix,
)
from service.report.replay_report import ReplayReport
from service.sessions.reader import SessionSummary

__all__ = ["PluginHost", "PluginStatus"]

log = logging.getLogger(__name__)
_PREFIX = "REPLAYDESK_"


class PluginStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What `replaydesk plugins` shows of one plugin."""

    name: str
    version: str | None
    distribution: str | None
    state: str
    """`active`, `idle` (a required setting is unset), `disabled` or `failed`."""
    detail: str | None
    hooks: list[str]
    provider: TicketProvider | None
    settings: list[SettingSpec]
    settings_set: list[str]
    """Names of the declared settings set in the environment (not just defaulted)."""
    last_error: str | None = None
    """The type (and HTTP status) of the last error a hook of this plugin raised in this
    process, never its message, which can quote customer data."""
    last_error_at: datetime | None = None


class PluginHost:
    """The registered plugins, as the rest of the service uses them."""

    def __init__(self, manager: pluggy.PluginManager, environment: dict[str, str]) -> None:
        self.manager = manager
        self.environment = environment
        self._settings: dict[str, PluginSettings] = {}
        self._providers: dict[str, tuple[str, TicketProvider]] | None = None
        self._last_errors: dict[str, tuple[str, datetime]] = {}

    # -- plugins and their settings -------------------------------------------------------

    def plugin_names(self) -> list[str]:
        """Registered plugins, by name."""
        return sorted(name for name, plugin in self.manager.list_name_plugin() if plugin)

    def _call_one(self, hook: str, name: str, **kwargs: Any) -> Any:
        others = [p for n, p in self.manager.list_name_plugin() if p is not None and n != name]
        try:
            return self.manager.subset_hook_caller(hook, others)(**kwargs)
        except Exception as exc:
            self._last_errors[name] = (exception_summary(exc), datetime.now(tz=UTC))
            raise

    def implements(self, name: str, hook: str) -> bool:
        """Whether plugin `name` implements `hook`."""
        plugin = self.manager.get_plugin(name)
        caller = getattr(self.manager.hook, hook, None)
        return caller is not None and any(i.plugin is plugin for i in caller.get_hookimpls())

    def settings_of(self, name: str) -> PluginSettings:
        """Plugin `name`'s own settings: `REPLAYDESK_<NAME>_*` and its declared defaults."""
        if name not in self._settings:
            prefix = plugin_env_prefix(name).removeprefix(_PREFIX)
            values = {
                key.removeprefix(prefix): value
                for key, value in self.environment.items()
                if key.startswith(prefix)
            }
            specs: list[SettingSpec] = []
            try:
                for declared in self._call_one("replaydesk_plugin_settings", name):
                    specs.extend(declared or ())
            except Exception:
                log.exception("plugin %r failed in replaydesk_plugin_settings", name)
            self._settings[name] = PluginSettings(plugin=name, values=values, specs=tuple(specs))
        return self._settings[name]

    def is_idle(self, name: str) -> bool:
        """True while a required setting of the plugin is unset."""
        return bool(self.settings_of(name).missing())

    # -- providers ------------------------------------------------------------------------

    def providers(self) -> dict[str, tuple[str, TicketProvider]]:
        """Ticket providers of active plugins: provider name -> (plugin name, provider)."""
        if self._providers is None:
            found: dict[str, tuple[str, TicketProvider]] = {}
            for name in self.plugin_names():
                if self.is_idle(name):
                    continue
                settings = self.settings_of(name)
                try:
                    declared = self._call_one("replaydesk_ticket_provider", name, settings=settings)
                except Exception:
                    log.exception("plugin %r failed in replaydesk_ticket_provider", name)
                    continue
                for provider in declared:
                    if provider is None:
                        continue
                    if provider.name in found:
                        log.error(
                            "plugins %r and %r both declare provider %r; %r is ignored",
                            found[provider.name][0],
                            name,
                            provider.name,
                            name,
                        )
                        continue
                    found[provider.name] = (name, provider)
            self._providers = found
        return self._providers

    def owner(self, provider: str) -> str:
        """The plugin that declared `provider`; NotFound naming the configured ones."""
        entry = self.providers().get(provider)
        if entry is None:
            known = ", ".join(sorted(self.providers())) or "none"
            raise NotFound(f"no ticket provider {provider!r} (configured: {known})")
        return entry[0]

    def provider(self, name: str) -> TicketProvider:
        """The provider as its plugin declared it; NotFound when nobody did."""
        self.owner(name)
        return self.providers()[name][1]

    def takes_webhooks(self, provider: str) -> bool:
        """Whether the provider's plugin parses webhooks."""
        return self.implements(self.owner(provider), "replaydesk_parse_webhook")

    # -- provider hooks -------------------------------------------------------------------

    def attach_report(self, ticket: TicketRef, report: ReplayReport) -> AttachResult | None:
        """The provider's `replaydesk_attach_report` (network I/O: jobs only)."""
        result: AttachResult | None = self._provider_hook(
            "replaydesk_attach_report", ticket.provider, False, ticket=ticket, report=report
        )
        return result

    def find_attachment(self, ticket: TicketRef, marker: str) -> AttachResult | None:
        """The provider's `replaydesk_find_attachment`, or None when it has none."""
        result: AttachResult | None = self._provider_hook(
            "replaydesk_find_attachment", ticket.provider, False, ticket=ticket, marker=marker
        )
        return result

    def _provider_hook(self, hook: str, provider: str, required: bool, **kwargs: Any) -> Any:
        name = self.owner(provider)
        if not self.implements(name, hook):
            if required:
                raise NotFound(f"the {provider} plugin does not implement {hook}")
            return None
        return self._call_one(hook, name, settings=self.settings_of(name), **kwargs)

    def check_ticket_id(self, ticket: TicketRef) -> str | None:
        """The provider's `replaydesk_check_ticket_id`: why the ID cannot be its, or None."""
        reason: str | None = self._provider_hook(
            "replaydesk_check_ticket_id", ticket.provider, False, ticket=ticket
        )
        return reason

    def resolve_user(self, ticket: TicketRef, requester: str) -> str | None:
        """The provider's `replaydesk_resolve_user` (network I/O: jobs only)."""
        user_id: str | None = self._provider_hook(
            "replaydesk_resolve_user", ticket.provider, True, ticket=ticket, requester=requester
        )
        return user_id

    def attach_no_recording(
        self, ticket: TicketRef, notice: MissingRecording
    ) -> AttachResult | None:
        """The provider's `replaydesk_attach_no_recording` (network I/O: jobs only)."""
        result: AttachResult | None = self._provider_hook(
            "replaydesk_attach_no_recording", ticket.provider, True, ticket=ticket, notice=notice
        )
        return result

    def creates_issues(self, provider: str) -> bool:
        """Whether the provider's plugin opens new issues (`replaydesk_create_issue`)."""
        return self.implements(self.owner(provider), "replaydesk_create_issue")

    def create_issue(
        self, provider: str, request: IssueRequest, report: ReplayReport
    ) -> CreatedIssue | None:
        """The provider's `replaydesk_create_issue` (network I/O: jobs only)."""
        created: CreatedIssue | None = self._provider_hook(
            "replaydesk_create_issue", provider, True, request=request, report=report
        )
        return created

    def parse_webhook(self, request: WebhookRequest) -> TicketEvent | None:
        """The provider's `replaydesk_parse_webhook` (NotFound when it takes no webhooks)."""
        if not self.takes_webhooks(request.provider):
            raise NotFound(f"provider {request.provider!r} takes no webhooks")
        event: TicketEvent | None = self._provider_hook(
            "replaydesk_parse_webhook", request.provider, True, request=request
        )
        return event

    def wants_session_ends(self) -> list[str]:
        """Active plugins that implement `replaydesk_session_ended`."""
        return [
            name
            for name in self.plugin_names()
            if self.implements(name, "replaydesk_session_ended") and not self.is_idle(name)
        ]

    def session_ended(self, session: SessionSummary) -> list[str]:
        """Tell every active plugin; returns the plugins whose hook raised (each is logged)."""
        failed: list[str] = []
        for name in self.wants_session_ends():
            try:
                self._call_one(
                    "replaydesk_session_ended",
                    name,
                    session=session,
                    settings=self.settings_of(name),
                )
            except Exception:
                log.exception("plugin %r failed in replaydesk_session_ended", name)
                failed.append(name)
        return failed

    # -- listing --------------------------------------------------------------------------

    def statuses(self) -> list[PluginStatus]:
        """Every plugin the entry points named or that was registered (`replaydesk plugins`)."""
        loaded = self.manager.loaded if isinstance(self.manager, ReplayDeskPluginManager) else {}
        names = sorted(set(loaded) | set(self.plugin_names()))
        providers = {plugin: provider for plugin, provider in self.providers().values()}
        result: list[PluginStatus] = []
        for name in names:
            info = loaded.get(name)
            registered = self.manager.has_plugin(name) and self.manager.get_plugin(name)
            hooks: list[str] = []
            specs: Sequence[SettingSpec] = ()
            settings_set: list[str] = []
            state = info.state if info else "loaded"
            detail = info.error if info else None
            if registered:
                plugin = self.manager.get_plugin(name)
                hooks = sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or [])
                settings = self.settings_of(name)
                specs = settings.specs
                settings_set = [s.name for s in specs if s.name.upper() in settings.values]
                missing = settings.missing()
                state = "idle" if missing else "active"
                detail = f"unset: {', '.join(missing)}" if missing else None
            last_error, last_error_at = self._last_errors.get(name, (None, None))
            result.append(
                PluginStatus(
                    name=name,
                    version=info.version if info else None,
                    distribution=info.distribution if info else None,
                    state=state,
                    detail=detail,
                    hooks=hooks,
                    provider=providers.get(name),
                    settings=list(specs),
                    settings_set=settings_set,
                    last_error=last_error,
                    last_error_at=last_error_at,
                )
            )
        return result
