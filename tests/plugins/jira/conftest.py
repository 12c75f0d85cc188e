"""Fixtures for the Jira plugin: a stand-in Jira Cloud, its settings, and a service using it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator

import pytest
import respx
from litestar.testing import AsyncTestClient

from plugins.jira.settings import SETTINGS
from service import PluginSettings
from service.jobs.runtime import configure_job_runtime
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.settings import Settings
from service.web.app import create_app
from tests.conftest import make_settings
from tests.plugins.jira.fake_jira import FakeJira

SITE = "https://acme.atlassian.net"
EMAIL = "replaydesk-bot@acme.example"
API_TOKEN = "jira-api-token-not-real"
WEBHOOK_SECRET = "jira-webhook-secret-not-real"
BASIC = "Basic " + base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()
ENVIRONMENT = {
    "URL": SITE,
    "WEBHOOK_SECRET": WEBHOOK_SECRET,
    "EMAIL": EMAIL,
    "API_TOKEN": API_TOKEN,
}


def plugin_settings(**values: str) -> PluginSettings:
    """The plugin's settings as the service hands them over: these values over `ENVIRONMENT`."""
    return PluginSettings(plugin="jira", values={**ENVIRONMENT, **values}, specs=SETTINGS)


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    """Jira at the httpx edge; the test fails if a request broke Jira's contracts."""
    with respx.mock(base_url=SITE, assert_all_called=False) as router:
        fake = FakeJira(router, BASIC)
        yield fake
    assert fake.problems == []


@pytest.fixture
def jira_settings(settings: Settings) -> Settings:
    """Service settings with the Jira plugin configured (`REPLAYDESK_JIRA_*`)."""
    return make_settings(
        settings.data_dir,
        settings.database_url,
        settings.redis_url,
        plugin_environment={f"JIRA_{name}": value for name, value in ENVIRONMENT.items()},
    )


@pytest.fixture
async def jira_client(jira_settings: Settings, jira: FakeJira) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """A running app whose jobs (run in this process) write to the stand-in Jira."""
    host = PluginHost(build_plugin_manager(jira_settings), jira_settings.plugin_environment)
    configure_job_runtime(jira_settings, host)
    async with AsyncTestClient(app=create_app(jira_settings)) as test_client:
        yield test_client
