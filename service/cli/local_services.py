"""The database, blob store and keys that a command works on directly, without the service."""

from __future__ import annotations

import asyncio
from typing import Any

from service.settings import Settings

__all__ = ["with_services"]


def with_services(settings: Settings, action: Any) -> Any:
    """Run `action(services)` against the configured database and blob store."""
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
