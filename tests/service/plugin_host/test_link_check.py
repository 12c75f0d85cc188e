"""Replay links on a loopback public URL are said to open only on the service's machine."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from service.cli.plugins import format_plugins
from service.plugin_host.link_check import (
    is_loopback_url,
    loopback_link_warning,
    warn_of_loopback_links,
)
from service.plugin_host.routes import plugin_view
from tests.service.plugin_host.test_host import Tracker, host_with


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8000",
        "http://LOCALHOST.",
        "http://app.localhost:3000",
        "http://127.0.0.1:8000",
        "https://127.3.2.1",
        "http://[::1]:8000",
        "http://0.0.0.0:8000",
        "http://[::]:8000",
    ],
)
def test_addresses_of_this_machine_only_are_loopback(url: str) -> None:
    assert is_loopback_url(url)


@pytest.mark.parametrize(
    "url",
    ["https://replay.example.com", "http://10.0.0.5:8000", "http://[2001:db8::1]", "not a url"],
)
def test_addresses_others_reach_are_not(url: str) -> None:
    assert not is_loopback_url(url) and loopback_link_warning(url) is None


def test_the_warning_names_the_address_and_never_credentials() -> None:
    warning = loopback_link_warning("http://admin:s3cret@127.0.0.1:8000/base")
    assert warning is not None
    assert "REPLAYDESK_PUBLIC_URL is http://127.0.0.1:8000, a loopback address" in warning
    assert "s3cret" not in warning and "admin" not in warning


def test_a_start_with_an_active_provider_logs_one_line(tmp_path: Path, caplog: Any) -> None:
    active = host_with(tmp_path, {"BOARD_URL": "https://board.test"}, board=Tracker("board"))
    with caplog.at_level(logging.WARNING, logger="service.plugin_host.link_check"):
        warn_of_loopback_links("http://127.0.0.1:8000", active)
        warn_of_loopback_links("https://replay.example.com", active)
    assert [r.getMessage() for r in caplog.records] == [
        loopback_link_warning("http://127.0.0.1:8000")
    ]


def test_without_an_active_provider_nothing_goes_into_tickets(tmp_path: Path, caplog: Any) -> None:
    idle = host_with(tmp_path, {}, board=Tracker("board"))  # its required URL is unset
    with caplog.at_level(logging.WARNING):
        warn_of_loopback_links("http://127.0.0.1:8000", idle)
    assert caplog.records == []
    (status,) = [s for s in idle.statuses() if s.name == "board"]
    assert plugin_view(status, "http://127.0.0.1:8000").warning is None


def test_replaydesk_plugins_shows_the_warning_under_the_provider(tmp_path: Path) -> None:
    active = host_with(tmp_path, {"BOARD_URL": "https://board.test"}, board=Tracker("board"))
    (status,) = [s for s in active.statuses() if s.name == "board"]
    lines = format_plugins([plugin_view(status, "http://localhost:8000")])
    assert lines[1] == "  provider: board (Board)"
    assert lines[2] == f"  warning: {loopback_link_warning('http://localhost:8000')}"
    assert not any("warning" in line for line in format_plugins([plugin_view(status)]))
