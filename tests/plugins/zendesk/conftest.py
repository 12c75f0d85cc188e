"""Fixtures for the Zendesk plugin: a stand-in Zendesk, and a service configured to use it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import respx
from litestar.testing import AsyncTestClient

from service.jobs.runtime import configure_job_runtime
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.settings import Settings
from service.web.app import create_app
from tests.conftest import make_settings
from tests.plugins.zendesk.fake_zendesk import (
    API_TOKEN,
    EMAIL,
    WEBHOOK_SECRET,
    ZENDESK_URL,
    FakeZendesk,
    basic_authorization,
)


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    """Zendesk at the httpx edge; the test fails if a request broke the vendor's spec."""
    with respx.mock(base_url=ZENDESK_URL, assert_all_called=False) as router:
        fake = FakeZendesk(router, basic_authorization(EMAIL, API_TOKEN))
        yield fake
    assert fake.violations == []


@pytest.fixture
def zendesk_settings(settings: Settings) -> Settings:
    """Service settings with the Zendesk plugin configured (`REPLAYDESK_ZENDESK_*`)."""
    return make_settings(
        settings.data_dir,
        settings.database_url,
        settings.redis_url,
        plugin_environment={
            "ZENDESK_URL": ZENDESK_URL,
            "ZENDESK_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "ZENDESK_EMAIL": EMAIL,
            "ZENDESK_API_TOKEN": API_TOKEN,
        },
    )


@pytest.fixture
async def zendesk_client(
    zendesk_settings: Settings, zendesk: FakeZendesk
) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """A running app whose jobs (run in this process) write to the stand-in Zendesk."""
    host = PluginHost(build_plugin_manager(zendesk_settings), zendesk_settings.plugin_environment)
    configure_job_runtime(zendesk_settings, host)
    async with AsyncTestClient(app=create_app(zendesk_settings)) as test_client:
        yield test_client
