"""The database, blob store and keys that a command works on directly, without the service."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from service.settings import Settings

__all__ = ["schema_ready", "with_services"]


def with_services(settings: Settings, action: Any) -> Any:
    """Run `action(services)` against the configured database and blob store, migrating an
    embedded database first; exit 1 when a shared one is behind the code."""
    # Migrating on the way to another command is not news: Alembic's step lines stay quiet.
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        ready = schema_ready(settings)
    finally:
        alembic_log.setLevel(level)
    if not ready:
        raise SystemExit(1)
    from service.auth.keys import AccessKeys
    from service.storage.blobs import open_blob_store
    from service.storage.database import create_engine
    from service.storage.key_store import KeyStore
    from service.storage.session_store import SessionStore

    async def run() -> Any:
        engine = create_engine(settings.database_url)
        try:
            blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.blob_options)
            keys = AccessKeys(
                KeyStore(engine), settings.api_keys, settings.ingest_keys, settings.ingest_origins
            )
            return await action(SessionStore(engine), blobs, keys)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def schema_ready(settings: Settings) -> bool:
    """Migrate an embedded SQLite database; True when the configured one is at the head.

    A shared database (PostgreSQL) is migrated by its admin: False, with a line on stderr
    saying what to run, when it is behind.
    """
    from service.storage.database import (
        create_engine,
        current_revision,
        head_revision,
        is_embedded,
        upgrade_database,
    )

    if is_embedded(settings.database_url):
        upgrade_database(settings.database_url)
        return True

    async def revision() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    current = asyncio.run(revision())
    if current != head_revision():
        print(
            f"replaydesk: the database is at migration {current or 'none'}, this version needs "
            f"{head_revision()}: run `replaydesk db upgrade` first",
            file=sys.stderr,
        )
        return False
    return True
