"""Loading plugins from the `replaydesk` entry points: installed, allowed, disabled, broken."""

from __future__ import annotations

import importlib.metadata
import logging
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.settings import Settings
from service.web.app import create_app
from tests.conftest import make_settings
from tests.processes import run_cli
from tests.service.conftest import taskboard_environment

BROKEN_PLUGINS = {
    "broken": "no_such_module_for_replaydesk",
    "misspelt": "misspelt_replaydesk_plugin",
}


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLAYDESK_")}
    env["REPLAYDESK_DATA_DIR"] = str(tmp_path / "data")
    return env


@pytest.fixture
def broken_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding an installed-looking distribution with two plugins that cannot load."""
    site = tmp_path / "site"
    dist_info = site / "replaydesk_broken_examples-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: replaydesk-broken-examples\nVersion: 0.1\n"
    )
    entry_points = "".join(f"{name} = {module}\n" for name, module in BROKEN_PLUGINS.items())
    (dist_info / "entry_points.txt").write_text(f"[replaydesk]\n{entry_points}")
    # Imports fine, but implements a hook that does not exist (a typo).
    (site / "misspelt_replaydesk_plugin.py").write_text(
        "from service import hookimpl\n\n\n"
        "@hookimpl\n"
        "def replaydesk_attach_reprot(ticket, report, settings):\n"
        "    return None\n"
    )
    monkeypatch.syspath_prepend(str(site))
    return site


def test_the_example_plugin_installs_and_loads_through_its_entry_point(
    taskboard_plugin: ModuleType, tmp_path: Path, taskboard: Any
) -> None:
    names = {ep.name for ep in importlib.metadata.entry_points(group="replaydesk")}
    assert {"taskboard", "zendesk", "jira"} <= names

    env = clean_env(tmp_path)
    env.update({f"REPLAYDESK_{k}": v for k, v in taskboard_environment(taskboard).items()})
    listing = run_cli(env, "plugins")
    assert listing.returncode == 0, listing.stderr
    out = listing.stdout
    assert "taskboard 1.0.0 (replaydesk-taskboard)  active" in out
    assert "provider: taskboard (Taskboard)" in out
    for hook in (
        "replaydesk_attach_report",
        "replaydesk_find_attachment",
        "replaydesk_parse_webhook",
        "replaydesk_plugin_settings",
        "replaydesk_ticket_provider",
    ):
        assert hook in out
    assert "REPLAYDESK_TASKBOARD_TOKEN  (required, secret, set)" in out
    assert taskboard.token not in out  # secrets are never printed
    assert "zendesk 0.1.0 (replaydesk)" in out and "jira 0.1.0 (replaydesk)" in out

    idle = run_cli(clean_env(tmp_path), "plugins")
    assert "taskboard 1.0.0 (replaydesk-taskboard)  idle" in idle.stdout
    assert "REPLAYDESK_TASKBOARD_URL" in idle.stdout


def test_allow_list_and_disable_switch(
    taskboard_plugin: ModuleType, tmp_path: Path, database_url: str
) -> None:
    only = build_plugin_manager(make_settings(tmp_path, database_url, None, plugins=("taskboard",)))
    assert only.has_plugin("taskboard") and not only.has_plugin("zendesk")
    assert only.loaded["zendesk"].state == "disabled"

    without = build_plugin_manager(
        make_settings(tmp_path, database_url, None, disabled_plugins=("taskboard", "jira"))
    )
    assert not without.has_plugin("taskboard") and not without.has_plugin("jira")
    assert without.has_plugin("zendesk")


def test_the_environment_switches_reach_the_manager(tmp_path: Path) -> None:
    from service.settings import load_settings

    settings = load_settings(
        {
            "REPLAYDESK_DATA_DIR": str(tmp_path),
            "REPLAYDESK_PLUGINS": "taskboard, zendesk",
            "REPLAYDESK_DISABLED_PLUGINS": "zendesk",
            "REPLAYDESK_TASKBOARD_URL": "http://127.0.0.1:9",
            "REPLAYDESK_SECRET_KEY": "not-for-plugins",
        }
    )
    assert settings.plugins == ("taskboard", "zendesk")
    assert settings.disabled_plugins == ("zendesk",)
    assert settings.plugin_environment == {"TASKBOARD_URL": "http://127.0.0.1:9"}


async def test_a_plugin_that_fails_to_load_is_named_and_the_service_still_starts(
    broken_plugins: Path,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="service.plugin_host.manager"):
        manager = build_plugin_manager(settings)
    assert manager.failures().keys() == set(BROKEN_PLUGINS)
    assert "no_such_module_for_replaydesk" in manager.failures()["broken"]
    assert "replaydesk_attach_reprot is not a ReplayDesk hook" in manager.failures()["misspelt"]
    assert not manager.has_plugin("misspelt")
    assert manager.has_plugin("zendesk") and manager.has_plugin("jira")
    assert "plugin 'broken'" in caplog.text and "plugin 'misspelt'" in caplog.text
    statuses = {s.name: s for s in PluginHost(manager, {}).statuses()}
    assert statuses["broken"].state == "failed"

    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.get("/health")).status_code == 200

    env = clean_env(tmp_path)
    env["PYTHONPATH"] = str(broken_plugins)
    listing = run_cli(env, "plugins")
    assert listing.returncode == 1
    assert "broken 0.1 (replaydesk-broken-examples)  failed" in listing.stdout
    assert "error: ModuleNotFoundError" in listing.stdout
    assert "zendesk 0.1.0 (replaydesk)  idle" in listing.stdout  # loaded, waiting for settings
