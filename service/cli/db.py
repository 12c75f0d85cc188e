"""`replaydesk db upgrade`: apply the schema migrations."""

from __future__ import annotations

import argparse

from service.settings import Settings

__all__ = ["upgrade"]


def upgrade(settings: Settings, _: argparse.Namespace) -> int:
    from service.storage.database import upgrade_database

    upgrade_database(settings.database_url)
    print("database is up to date")
    return 0
