"""The Zendesk plugin's settings: what it declares, the credentials it takes, when it is off."""

from __future__ import annotations

import pytest

from plugins import zendesk as plugin
from plugins.zendesk.settings import ConfigError, load_config
from service import PluginSettings
from tests.plugins.zendesk.fake_zendesk import (
    API_TOKEN,
    EMAIL,
    ZENDESK_URL,
    basic_authorization,
    plugin_settings,
)


def test_url_and_webhook_secret_are_required_and_the_secrets_are_secret() -> None:
    bare = PluginSettings(plugin="zendesk", specs=tuple(plugin.replaydesk_plugin_settings()))
    assert bare.missing() == ["REPLAYDESK_ZENDESK_URL", "REPLAYDESK_ZENDESK_WEBHOOK_SECRET"]
    secret = {spec.name for spec in bare.specs if spec.secret}
    assert secret == {"WEBHOOK_SECRET", "API_TOKEN", "OAUTH_TOKEN"}


def test_defaults() -> None:
    config = load_config(plugin_settings())
    assert config.url == ZENDESK_URL
    assert config.user_lookup == ("external_id", "email")
    assert config.no_recording_note is False
    assert config.webhook_window_seconds == 300


def test_an_api_token_is_basic_auth_and_an_oauth_token_a_bearer_token() -> None:
    assert load_config(plugin_settings()).authorization == basic_authorization(EMAIL, API_TOKEN)
    oauth = load_config(plugin_settings(OAUTH_TOKEN="oauth-abc", EMAIL="", API_TOKEN=""))
    assert oauth.authorization == "Bearer oauth-abc"


def test_credentials_never_show_in_the_configs_repr() -> None:
    assert API_TOKEN not in repr(load_config(plugin_settings()))
    assert "oauth-abc" not in repr(load_config(plugin_settings(OAUTH_TOKEN="oauth-abc")))


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"API_TOKEN": ""}, "REPLAYDESK_ZENDESK_API_TOKEN"),
        ({"EMAIL": ""}, "REPLAYDESK_ZENDESK_EMAIL"),
        ({"URL": "http://acme.zendesk.com"}, "REPLAYDESK_ZENDESK_URL"),
        ({"URL": "https://acme.zendesk.com/api/v2"}, "REPLAYDESK_ZENDESK_URL"),
        ({"USER_LOOKUP": "external_id,phone"}, "REPLAYDESK_ZENDESK_USER_LOOKUP"),
        ({"NO_RECORDING_NOTE": "maybe"}, "REPLAYDESK_ZENDESK_NO_RECORDING_NOTE"),
        ({"WEBHOOK_WINDOW_SECONDS": "0"}, "REPLAYDESK_ZENDESK_WEBHOOK_WINDOW_SECONDS"),
        ({"WEBHOOK_WINDOW_SECONDS": "soon"}, "REPLAYDESK_ZENDESK_WEBHOOK_WINDOW_SECONDS"),
    ],
)
def test_a_missing_or_malformed_setting_is_named(values: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_config(plugin_settings(**values))


def test_the_provider_is_declared_only_with_complete_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = plugin.replaydesk_ticket_provider(plugin_settings())
    assert provider is not None
    assert (provider.name, provider.title, provider.no_recording_note) == (
        "zendesk",
        "Zendesk",
        False,
    )

    assert plugin.replaydesk_ticket_provider(plugin_settings(EMAIL="")) is None
    assert "REPLAYDESK_ZENDESK_EMAIL" in caplog.text
    assert API_TOKEN not in caplog.text


def test_the_no_recording_note_is_a_switch_of_the_provider() -> None:
    provider = plugin.replaydesk_ticket_provider(plugin_settings(NO_RECORDING_NOTE="true"))
    assert provider is not None and provider.no_recording_note is True


def test_the_agent_link_points_into_zendesk() -> None:
    assert load_config(plugin_settings(URL=f"{ZENDESK_URL}/")).ticket_url("35436") == (
        "https://acme.zendesk.com/agent/tickets/35436"
    )
