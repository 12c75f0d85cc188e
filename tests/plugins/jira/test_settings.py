"""The settings: idle until site and secret are set, a provider once Jira can be called."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import plugins.jira as plugin
from plugins.jira.settings import SETTINGS
from service import PluginSettings, TicketProvider
from tests.plugins.jira.conftest import API_TOKEN, EMAIL, SITE, WEBHOOK_SECRET, plugin_settings


def test_the_site_and_the_webhook_secret_are_required() -> None:
    settings = PluginSettings(plugin="jira", specs=tuple(plugin.replaydesk_plugin_settings()))
    assert settings.missing() == ["REPLAYDESK_JIRA_URL", "REPLAYDESK_JIRA_WEBHOOK_SECRET"]
    assert {spec.name for spec in SETTINGS if spec.secret} == {
        "WEBHOOK_SECRET",
        "API_TOKEN",
        "OAUTH_TOKEN",
    }


def test_a_configured_plugin_declares_the_jira_provider() -> None:
    assert plugin.replaydesk_ticket_provider(plugin_settings()) == TicketProvider(
        name="jira", title="Jira", no_recording_note=False
    )
    noting = plugin.replaydesk_ticket_provider(plugin_settings(NO_RECORDING_NOTE="true"))
    assert noting is not None and noting.no_recording_note
    bearer = PluginSettings(
        plugin="jira",
        values={"URL": SITE, "WEBHOOK_SECRET": WEBHOOK_SECRET, "OAUTH_TOKEN": "t"},
        specs=SETTINGS,
    )
    assert plugin.replaydesk_ticket_provider(bearer) is not None


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"EMAIL": EMAIL}, "REPLAYDESK_JIRA_API_TOKEN"),
        ({"API_TOKEN": API_TOKEN}, "REPLAYDESK_JIRA_EMAIL"),
        ({}, "REPLAYDESK_JIRA_EMAIL"),
        ({"EMAIL": EMAIL, "API_TOKEN": API_TOKEN, "URL": "http://acme.example"}, "_URL"),
        ({"EMAIL": EMAIL, "API_TOKEN": API_TOKEN, "NO_RECORDING_NOTE": "maybe"}, "_NOTE"),
        ({"EMAIL": EMAIL, "API_TOKEN": API_TOKEN, "WEBHOOK_MAX_AGE_SECONDS": "-1"}, "_SECONDS"),
    ],
)
def test_incomplete_settings_declare_no_provider_and_say_which_variable(
    values: dict[str, str], variable: str, caplog: Any
) -> None:
    settings = PluginSettings(
        plugin="jira",
        values={"URL": SITE, "WEBHOOK_SECRET": WEBHOOK_SECRET, **values},
        specs=SETTINGS,
    )
    with caplog.at_level(logging.WARNING, logger="plugins.jira"):
        assert plugin.replaydesk_ticket_provider(settings) is None
    assert variable in caplog.text
    for secret in (API_TOKEN, WEBHOOK_SECRET):
        assert secret not in caplog.text


def test_with_the_oauth_api_address_links_still_open_on_the_site() -> None:
    from plugins.jira.settings import ConfigError, load_config

    api = "https://api.atlassian.com/ex/jira/11223344-a1b2-3b33-c444-def123456789"
    oauth = {"URL": api, "OAUTH_TOKEN": "t", "SITE_URL": SITE}
    config = load_config(plugin_settings(**oauth))
    assert config.url == api and config.authorization == "Bearer t"
    assert config.browse_url("SHOP-12", "10001") == f"{SITE}/browse/SHOP-12?focusedCommentId=10001"
    assert load_config(plugin_settings()).browse_url("SHOP-12") == f"{SITE}/browse/SHOP-12"
    with pytest.raises(ConfigError, match="REPLAYDESK_JIRA_SITE_URL must be an https"):
        load_config(plugin_settings(SITE_URL="http://acme.atlassian.net"))
