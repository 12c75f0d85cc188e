"""`replaydesk plugin new NAME` writes a package that installs, lints clean and passes its tests."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service import log_redaction
from service.cli import main

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _process_wide_logging_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    """`main` installs log redaction for the whole process, as a command should; in the test
    process that would outlive the test."""
    monkeypatch.setattr(log_redaction, "install", lambda: lambda: None)


@pytest.mark.parametrize("name", ["Acme", "9lives", "acme-desk", "class", "acme__desk", "a" * 41])
def test_names_that_are_no_python_names_are_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugin", "new", name, "--dir", str(tmp_path)]) == 2
    assert "is no plugin name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "replaydesk-acme").mkdir()
    (tmp_path / "replaydesk-acme" / "keep.txt").write_text("mine")
    assert main(["plugin", "new", "acme"]) == 1
    assert "exists already" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "replaydesk-acme").iterdir()] == ["keep.txt"]
    # Writing files reads no settings: no data dir or generated keys appear here.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["replaydesk-acme"]


def test_the_generated_package_lints_clean_installs_offline_and_passes_its_tests(
    tmp_path: Path,
) -> None:
    assert main(["plugin", "new", "acme_desk", "--dir", str(tmp_path)]) == 0
    package = tmp_path / "replaydesk-acme-desk"
    assert (package / "replaydesk_acme_desk" / "fake_tracker.py").is_file()
    for lint in (["check", "."], ["format", "--check", "."]):
        subprocess.run([BIN / "ruff", *lint], cwd=package, check=True, timeout=60)

    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLAYDESK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(package), str(ROOT)])
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "5 passed" in tests.stdout

    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation"]
    pip += ["--no-deps", "--no-index", "--target", str(site), str(package)]
    subprocess.run(pip, check=True, timeout=300, cwd=tmp_path)
    (dist,) = importlib.metadata.distributions(path=[str(site)])
    (entry_point,) = dist.entry_points.select(group="replaydesk")
    assert (entry_point.name, entry_point.value) == ("acme_desk", "replaydesk_acme_desk")
    assert "replaydesk<0.2,>=0.1.0" in (dist.requires or [])
