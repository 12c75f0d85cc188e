"""Secrets generated on first start and kept, owner-only, in the data dir."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import msgspec

__all__ = ["GeneratedSecrets", "load_or_create_generated_secrets", "take_keys_to_announce"]

SECRETS_FILE = "secrets.json"
# Present once the generated keys have been printed by `replaydesk serve`.
ANNOUNCED_MARKER = ".keys-announced"


class GeneratedSecrets(msgspec.Struct, kw_only=True):
    """The signing key and the first API and ingest keys of an installation."""

    secret_key: str
    api_key: str
    ingest_key: str


def load_or_create_generated_secrets(data_dir: Path) -> GeneratedSecrets:
    """Return the data dir's generated secrets, creating them (mode 0600) on first call."""
    path = data_dir / SECRETS_FILE
    if path.exists():
        return msgspec.json.decode(path.read_bytes(), type=GeneratedSecrets)
    fresh = GeneratedSecrets(
        secret_key=secrets.token_urlsafe(48),
        api_key="rdk_api_" + secrets.token_urlsafe(32),
        ingest_key="rdk_ing_" + secrets.token_urlsafe(16),
    )
    payload = msgspec.json.encode(
        {"secret_key": fresh.secret_key, "api_key": fresh.api_key, "ingest_key": fresh.ingest_key}
    )
    # Written aside, then linked into place: a second process starting at the same moment
    # either wins the link or reads the complete file, never a half-written one.
    tmp = data_dir / f".{SECRETS_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        return load_or_create_generated_secrets(data_dir)
    finally:
        tmp.unlink()
    return fresh


def take_keys_to_announce(data_dir: Path) -> GeneratedSecrets | None:
    """The generated keys if they were never shown yet (then never again), else None.

    Whichever command creates the secrets first (`db upgrade` during `make run`, say), the first
    `serve` is the one that shows them.
    """
    marker = data_dir / ANNOUNCED_MARKER
    if marker.exists() or not (data_dir / SECRETS_FILE).exists():
        return None
    marker.touch(mode=0o600)
    return load_or_create_generated_secrets(data_dir)
