"""Fixtures for tickets and plugins: the example plugin pip-installed, a fake Taskboard, workers."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import site
import subprocess
import sys
import sysconfig
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.jobs.runtime import configure_job_runtime
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.settings import Settings
from service.web.app import create_app
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "replaydesk-taskboard"
WEBHOOK_SECRET = "taskboard-webhook-secret"


def _installed_from_here() -> bool:
    try:
        dist = importlib.metadata.distribution("replaydesk-taskboard")
    except importlib.metadata.PackageNotFoundError:
        return False
    direct_url = dist.read_text("direct_url.json")
    return bool(direct_url) and json.loads(direct_url or "{}").get("url") == EXAMPLE.as_uri()


def _setuptools_builds_editables() -> bool:
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    major, minor = (int(part) for part in version.split(".")[:2])
    # setuptools carries its own bdist_wheel from 70.1 on; before, it needs the wheel package.
    return (major, minor) >= (70, 1)


@pytest.fixture(scope="session")
def taskboard_plugin() -> ModuleType:
    """The example plugin, pip-installed (editable) into this environment like an admin would."""
    if not _installed_from_here():
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        # Without isolation the build uses this environment's setuptools (`make setup` brings
        # a recent one); an older one cannot build the example, so pip fetches its own.
        if _setuptools_builds_editables():
            command.append("--no-build-isolation")
        subprocess.run([*command, "-e", str(EXAMPLE)], check=True, timeout=300)
        importlib.invalidate_caches()
        # The editable install's .pth file is read at interpreter start; read it now.
        site.addsitedir(sysconfig.get_paths()["purelib"])
    return importlib.import_module("replaydesk_taskboard")


@pytest.fixture
def taskboard(taskboard_plugin: ModuleType) -> Iterator[Any]:
    """A fake Taskboard on loopback."""
    from replaydesk_taskboard.fake_server import FakeTaskboard

    with FakeTaskboard() as fake:
        yield fake


def taskboard_environment(taskboard: Any) -> dict[str, str]:
    """The `REPLAYDESK_TASKBOARD_*` settings pointing at the fake Taskboard."""
    return {
        "TASKBOARD_URL": taskboard.url,
        "TASKBOARD_TOKEN": taskboard.token,
        "TASKBOARD_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


@pytest.fixture
def ticket_settings(settings: Settings, taskboard: Any) -> Settings:
    """Service settings with the Taskboard plugin configured."""
    return make_settings(
        settings.data_dir,
        settings.database_url,
        settings.redis_url,
        plugin_environment=taskboard_environment(taskboard),
    )


@pytest.fixture
def worker_plugins(ticket_settings: Settings) -> PluginHost:
    """The plugins a worker of these settings runs jobs with (configured for this process)."""
    host = PluginHost(build_plugin_manager(ticket_settings), ticket_settings.plugin_environment)
    configure_job_runtime(ticket_settings, host)
    return host


@pytest.fixture
async def ticket_client(
    ticket_settings: Settings, worker_plugins: PluginHost
) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """A running app with the Taskboard plugin configured."""
    async with AsyncTestClient(app=create_app(ticket_settings)) as test_client:
        yield test_client
