"""Settings come from REPLAYDESK_* variables; generated secrets are made once, owner-only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from service.settings import load_settings


def test_defaults_are_embedded_and_secrets_are_generated_once(tmp_path: Path) -> None:
    env = {"REPLAYDESK_DATA_DIR": str(tmp_path / "data")}
    first = load_settings(env)
    assert first.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'replaydesk.db'}"
    assert first.redis_url is None and first.blob_url is None
    assert (first.host, first.port) == ("127.0.0.1", 8000)
    assert first.public_url == "http://127.0.0.1:8000"
    secrets_file = tmp_path / "data" / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700

    second = load_settings(env)
    assert (second.secret_key, second.api_keys, second.ingest_keys) == (
        first.secret_key,
        first.api_keys,
        first.ingest_keys,
    )
    assert first.api_keys[0].startswith("rdk_api_") and len(first.api_keys[0]) > 40


def test_environment_overrides(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "REPLAYDESK_DATA_DIR": str(tmp_path),
            "REPLAYDESK_DATABASE_URL": "postgresql+asyncpg://db/replay",
            "REPLAYDESK_REDIS_URL": "redis://cache:6379/0",
            "REPLAYDESK_API_KEYS": "k1, k2,",
            "REPLAYDESK_INGEST_KEYS": "pub1",
            "REPLAYDESK_INGEST_ORIGINS": "https://shop.example",
            "REPLAYDESK_PORT": "9000",
            "REPLAYDESK_RETENTION_DAYS": "7",
            "REPLAYDESK_BLOB_URL": "s3://bucket/replays",
            "REPLAYDESK_BLOB_OPTIONS": '{"region": "eu-west-1"}',
            "REPLAYDESK_SECRET_KEY": "s3cret",
        }
    )
    assert settings.api_keys == ("k1", "k2")
    assert settings.ingest_keys == ("pub1",)
    assert settings.ingest_origins == ("https://shop.example",)
    assert settings.port == 9000 and settings.retention_days == 7
    assert settings.blob_options == {"region": "eu-west-1"}
    assert settings.secret_key == "s3cret"


@pytest.mark.parametrize(
    ("overrides", "public_url"),
    [
        ({"REPLAYDESK_PORT": "8177"}, "http://127.0.0.1:8177"),
        ({"REPLAYDESK_HOST": "0.0.0.0", "REPLAYDESK_PORT": "9000"}, "http://127.0.0.1:9000"),  # noqa: S104
        ({"REPLAYDESK_HOST": "::"}, "http://127.0.0.1:8000"),
        ({"REPLAYDESK_HOST": "::1"}, "http://[::1]:8000"),
        ({"REPLAYDESK_HOST": "replay.internal"}, "http://replay.internal:8000"),
        (
            {"REPLAYDESK_PORT": "8177", "REPLAYDESK_PUBLIC_URL": "https://replay.example"},
            "https://replay.example",
        ),
    ],
)
def test_links_point_where_the_service_answers_unless_a_public_url_is_set(
    tmp_path: Path, overrides: dict[str, str], public_url: str
) -> None:
    settings = load_settings({"REPLAYDESK_DATA_DIR": str(tmp_path), **overrides})
    assert settings.public_url == public_url


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REPLAYDESK_PORT", "eighty", "REPLAYDESK_PORT must be a whole number"),
        ("REPLAYDESK_PORT", "70000", "port"),
        ("REPLAYDESK_RETENTION_DAYS", "0", "retention_days"),
    ],
)
def test_invalid_values_stop_with_a_clear_message(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(SystemExit, match=message):
        load_settings({"REPLAYDESK_DATA_DIR": str(tmp_path), name: value})


@pytest.mark.parametrize(
    ("cores", "database_url", "workers"),
    [
        ({0, 1}, None, 1),
        ({0, 1, 2, 3, 4, 5, 6, 7}, None, 4),
        ({0}, None, 1),
        ({0, 1}, "postgresql+asyncpg://replaydesk@db/replaydesk", 2),
        ({0, 1, 2, 3, 4, 5, 6, 7}, "postgresql+asyncpg://replaydesk@db/replaydesk", 8),
    ],
)
def test_processing_workers_are_sized_from_the_cores_and_the_database(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cores: set[int],
    database_url: str | None,
    workers: int,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: cores)
    env = {"REPLAYDESK_DATA_DIR": str(tmp_path)}
    if database_url is not None:
        env["REPLAYDESK_DATABASE_URL"] = database_url
    assert load_settings(env).processing_workers == workers
    explicit = load_settings({**env, "REPLAYDESK_PROCESSING_WORKERS": "3"})
    assert explicit.processing_workers == 3
