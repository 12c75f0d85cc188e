"""SQLite as many builds ship it: `secure_delete` off on every new connection (Debian's build
turns it on, which would hide a service that forgot to)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

__all__ = ["connect_with_secure_delete_off"]


def connect_with_secure_delete_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every SQLite connection made from now on (in this test) starts with secure_delete off."""
    connect = sqlite3.connect

    def connect_without_secure_delete(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        connection.execute("PRAGMA secure_delete=OFF")
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect_without_secure_delete)
    # SQLAlchemy's driver connects through `sqlite3.dbapi2`, aiosqlite through `sqlite3`.
    monkeypatch.setattr(sqlite3.dbapi2, "connect", connect_without_secure_delete)
