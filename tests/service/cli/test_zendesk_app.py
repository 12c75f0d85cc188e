"""`replaydesk zendesk-app` writes the app's folder and its zip, pointed at the service's URL."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from service import log_redaction
from service.cli import main

FILES = {"manifest.json", "translations/en.json", "assets/logo.png", "assets/logo-small.png"}


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No REPLAYDESK_* setting of the machine's, a data dir of the test's, and the process-wide
    log redaction `main` installs kept out of the test process."""
    import os

    for name in list(os.environ):
        if name.startswith("REPLAYDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("REPLAYDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(log_redaction, "install", lambda: lambda: None)
    monkeypatch.chdir(tmp_path)


def manifest_in(archive: Path) -> dict[str, object]:
    with zipfile.ZipFile(archive) as opened:
        assert opened.testzip() is None
        assert set(opened.namelist()) == FILES
        manifest: dict[str, object] = json.loads(opened.read("manifest.json"))
        return manifest


def test_url_from_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pkg" / "sidebar-app"
    url = "https://replay.shop.example/"
    assert main(["zendesk-app", "--out", str(out), "--url", url, "--email", "a@b.c"]) == 0
    printed = capsys.readouterr().out
    assert "https://replay.shop.example/zendesk/sidebar" in printed
    assert "--scope sessions:read --scope links:create" in printed
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == FILES
    manifest = manifest_in(tmp_path / "pkg" / "sidebar-app.zip")
    sidebar = {"url": "https://replay.shop.example/zendesk/sidebar", "flexible": True}
    assert manifest["location"] == {"support": {"ticket_sidebar": sidebar}}
    assert manifest["domainWhitelist"] == ["replay.shop.example"]
    assert manifest["author"] == {
        "name": "ReplayDesk",
        "url": "https://replay.shop.example",
        "email": "a@b.c",
    }
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_url_from_the_public_url_setting_and_the_default_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLAYDESK_PUBLIC_URL", "https://rd.example.org:8443")
    assert main(["zendesk-app"]) == 0
    manifest = manifest_in(tmp_path / "replaydesk-zendesk-app.zip")
    assert manifest["domainWhitelist"] == ["rd.example.org"]
    sidebar = manifest["location"]["support"]["ticket_sidebar"]  # type: ignore[index]
    assert sidebar["url"] == "https://rd.example.org:8443/zendesk/sidebar"
    assert (tmp_path / "replaydesk-zendesk-app" / "translations" / "en.json").is_file()


def test_a_loopback_url_is_taken_with_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    # Unset, the public URL is where `replaydesk serve` answers on this machine.
    assert main(["zendesk-app", "--out", "local"]) == 0
    assert "only works in a browser on this machine" in capsys.readouterr().out
    assert manifest_in(Path("local.zip"))["domainWhitelist"] == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("args", "env", "where"),
    [
        (["--url", "http://replay.shop.example"], {}, "--url"),
        ([], {"REPLAYDESK_PUBLIC_URL": "http://10.1.2.3:8000"}, "REPLAYDESK_PUBLIC_URL"),
        (["--url", "replay.shop.example"], {}, "--url"),
    ],
)
def test_a_url_zendesk_cannot_use_is_refused_with_a_clear_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    env: dict[str, str],
    where: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["zendesk-app", "--out", "refused", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"replaydesk: {where}: ")
    assert "https" in err
    assert not Path("refused").exists() and not Path("refused.zip").exists()


def test_a_file_in_the_way_is_left_alone(capsys: pytest.CaptureFixture[str]) -> None:
    Path("taken").write_text("mine")
    assert main(["zendesk-app", "--out", "taken", "--url", "https://rd.example.org"]) == 1
    assert "is not a folder" in capsys.readouterr().err
    assert Path("taken").read_text() == "mine"
