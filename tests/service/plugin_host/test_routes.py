"""GET /api/v1/plugins: the plugins as the running service sees them, never a setting's value."""

from __future__ import annotations

from typing import Any

import pytest

from service import PermanentError, TicketProvider, TicketRef, hookimpl
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.plugin_testing import sample_report
from service.settings import Settings
from tests.conftest import AUTH


async def test_the_service_lists_its_plugins_with_settings_set_but_no_values(
    ticket_client: Any, taskboard: Any
) -> None:
    assert (await ticket_client.get("/api/v1/plugins")).status_code == 401
    answer = await ticket_client.get("/api/v1/plugins", headers=AUTH)
    assert answer.status_code == 200, answer.text
    plugins = {plugin["name"]: plugin for plugin in answer.json()}
    board = plugins["taskboard"]
    assert board["state"] == "active" and board["provider"] == "taskboard"
    assert "replaydesk_attach_report" in board["hooks"]
    token = next(s for s in board["settings"] if s["name"] == "TOKEN")
    assert token == {
        "name": "TOKEN",
        "variable": "REPLAYDESK_TASKBOARD_TOKEN",
        "required": True,
        "secret": True,
        "set": True,
        "default": None,
        "description": token["description"],
    }
    assert taskboard.token not in answer.text
    assert plugins["zendesk"]["state"] == "idle" and "unset" in plugins["zendesk"]["detail"]
    # The test service's links are loopback ones: said of the active provider, not the idle one.
    assert "a loopback address" in board["warning"] and plugins["zendesk"]["warning"] is None


class Failing:
    """A provider plugin whose write fails with a message that quotes customer data."""

    @hookimpl
    def replaydesk_ticket_provider(self) -> TicketProvider:
        return TicketProvider(name="failing")

    @hookimpl
    def replaydesk_attach_report(self, ticket: TicketRef) -> None:
        raise PermanentError("ticket of jane@example.com is locked", status=423)


def test_a_plugins_last_error_is_its_type_and_status_not_its_message(
    settings: Settings,
) -> None:
    manager = build_plugin_manager(settings)
    manager.register(Failing(), name="failing")
    host = PluginHost(manager, {})
    with pytest.raises(PermanentError):
        host.attach_report(TicketRef(provider="failing", ticket_id="1"), sample_report())
    (status,) = [s for s in host.statuses() if s.name == "failing"]
    assert status.last_error == "service.plugin_host.remote_errors.PermanentError (HTTP 423)"
    assert status.last_error_at is not None
