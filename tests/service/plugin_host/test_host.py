"""Hooks reach the right plugin: each with its own settings, providers only for their tickets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from service import (
    AttachResult,
    PluginSettings,
    ReplayReport,
    SettingSpec,
    TicketProvider,
    TicketRef,
    hookimpl,
)
from service.errors import NotFound
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.plugin_testing import sample_report
from tests.conftest import make_settings


class Tracker:
    """A plugin object answering for the provider of its own name."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.attached: list[tuple[str, str | None]] = []

    @hookimpl
    def replaydesk_plugin_settings(self) -> list[SettingSpec]:
        return [
            SettingSpec(name="URL", description="where it lives", required=True),
            SettingSpec(name="TIMEOUT", description="seconds", default="10"),
        ]

    @hookimpl
    def replaydesk_ticket_provider(self, settings: PluginSettings) -> TicketProvider:
        return TicketProvider(name=self.provider, title=self.provider.title())

    @hookimpl
    def replaydesk_attach_report(
        self, ticket: TicketRef, report: ReplayReport, settings: PluginSettings
    ) -> AttachResult:
        self.attached.append((ticket.ticket_id, settings.get("url")))
        return AttachResult(remote_id=f"{self.provider}-1")


def host_with(tmp_path: Path, environment: dict[str, str], **plugins: Tracker) -> PluginHost:
    settings = make_settings(tmp_path, "sqlite+aiosqlite://", None, plugin_environment=environment)
    manager = build_plugin_manager(
        make_settings(tmp_path, "sqlite+aiosqlite://", None, plugins=tuple(plugins)),
        extra_plugins=plugins.items(),
    )
    return PluginHost(manager, settings.plugin_environment)


def test_each_plugin_gets_its_own_settings_and_only_its_own_tickets(tmp_path: Path) -> None:
    alpha, beta = Tracker("alpha"), Tracker("beta")
    host = host_with(
        tmp_path,
        {"ALPHA_URL": "http://127.0.0.1:1", "BETA_URL": "http://127.0.0.1:2"},
        alpha=alpha,
        beta=beta,
    )
    assert set(host.providers()) == {"alpha", "beta"}
    result = host.attach_report(TicketRef(provider="beta", ticket_id="9"), sample_report())
    assert result == AttachResult(remote_id="beta-1")
    assert beta.attached == [("9", "http://127.0.0.1:2")] and alpha.attached == []
    assert host.settings_of("alpha").get("TIMEOUT") == "10"  # the declared default
    with pytest.raises(NotFound, match="alpha, beta"):
        host.attach_report(TicketRef(provider="gamma", ticket_id="1"), sample_report())


def test_a_plugin_missing_a_required_setting_stays_idle(tmp_path: Path) -> None:
    alpha, idle = Tracker("alpha"), Tracker("idle")
    host = host_with(tmp_path, {"ALPHA_URL": "http://127.0.0.1:1"}, alpha=alpha, idle=idle)
    assert set(host.providers()) == {"alpha"}
    status = {s.name: s for s in host.statuses()}["idle"]
    assert status.state == "idle" and status.detail == "unset: REPLAYDESK_IDLE_URL"
    assert status.hooks == [
        "replaydesk_attach_report",
        "replaydesk_plugin_settings",
        "replaydesk_ticket_provider",
    ]


def test_two_plugins_claiming_one_provider_keep_the_first(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = Tracker("shared"), Tracker("shared")
    with caplog.at_level(logging.ERROR):
        host = host_with(
            tmp_path,
            {"A_URL": "http://127.0.0.1:1", "B_URL": "http://127.0.0.1:2"},
            a=first,
            b=second,
        )
        assert host.providers()["shared"][0] == "a"
    assert "both declare provider 'shared'" in caplog.text


def test_number_and_switch_settings_name_the_variable_when_malformed() -> None:
    specs = (SettingSpec(name="NOTE", description="a switch", default="off"),)
    settings = PluginSettings(
        plugin="desk", values={"WAIT": "2.5", "ON": " Yes ", "BAD": "maybe"}, specs=specs
    )
    assert settings.get_float("WAIT", 1.0) == 2.5 and settings.get_float("UNSET", 1.0) == 1.0
    assert settings.get_bool("ON", False) is True
    assert settings.get_bool("NOTE", True) is False  # the declared default
    assert settings.get_bool("UNSET", True) is True
    with pytest.raises(ValueError, match=r"REPLAYDESK_DESK_BAD must be true or false$"):
        settings.get_bool("BAD", False)
    with pytest.raises(ValueError, match="REPLAYDESK_DESK_ON must be a number"):
        settings.get_float("ON", 1.0)
