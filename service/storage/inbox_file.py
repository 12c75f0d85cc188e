"""On a SQLite file, the ingest inbox is a SQLite file of its own beside the database
(`replaydesk.db-inbox`).

SQLite lets one connection write to a file at a time. With the inbox in the database, the
request path's insert of each acknowledged batch waited for the write lock while a processing
worker wrote a page of batches (tens of milliseconds), and the machine's other core idled
meanwhile. In a file of its own, the insert takes that file's lock, which a worker holds only
to delete the rows it has stored: workers store batches in the database first and delete
their rows after, so a worker stopped between the two takes the rows again and finds their
(session_id, seq) stored. PostgreSQL and in-memory SQLite keep the inbox in the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from sqlalchemy import URL, Engine, Table, delete, insert, inspect, make_url, select
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateIndex, CreateTable

from service.storage.database import (
    apply_sqlite_pragmas,
    create_sqlite_file,
    sqlite_file_url,
    use_write_ahead_log,
)
from service.storage.models import IngestInboxRow

__all__ = ["INBOX_FILE_SUFFIX", "inbox_file_url", "prepare_inbox_file"]

INBOX_FILE_SUFFIX = "-inbox"
# Rows moved per transaction when an older database's inbox table still holds some.
_MOVE_ROWS = 500

inbox = cast(Table, IngestInboxRow.__table__)


def inbox_file_url(database_url: str | URL) -> URL | None:
    """The URL (same driver) of the inbox file beside a SQLite database file; None for
    other databases, whose inbox is their own `ingest_inbox` table."""
    url = make_url(database_url)
    if sqlite_file_url(url) is None:
        return None
    return url.set(database=f"{url.database}{INBOX_FILE_SUFFIX}")


def prepare_inbox_file(database_url: str | URL) -> None:
    """Create the inbox file (owner-only, write-ahead log) and its table unless they exist,
    and move into it the batches the database's own inbox table still holds (acknowledged
    before an upgrade). Every process that opens the inbox does this first; a move cut short
    is finished by the next."""
    url = inbox_file_url(database_url)
    main_url = sqlite_file_url(database_url)
    if url is None or main_url is None or not Path(str(main_url.database)).exists():
        # No database yet (it is made, owner-only, when it is migrated): nothing to open.
        return
    create_sqlite_file(url)
    use_write_ahead_log(url)
    target = create_sync_engine(url.set(drivername="sqlite"), poolclass=NullPool)
    source = create_sync_engine(main_url, poolclass=NullPool)
    apply_sqlite_pragmas(target)
    apply_sqlite_pragmas(source)
    try:
        with target.begin() as conn:
            conn.execute(CreateTable(inbox, if_not_exists=True))
            for index in inbox.indexes:
                conn.execute(CreateIndex(index, if_not_exists=True))
        _move_rows(source, target)
    finally:
        target.dispose()
        source.dispose()


def _move_rows(source: Engine, target: Engine) -> None:
    with source.connect() as conn:
        if not inspect(conn).has_table(inbox.name):
            return  # a database not migrated yet: the service says so when it starts
    columns = [c for c in inbox.columns if c.name != "id"]
    page = select(inbox.c.id, *columns).order_by(inbox.c.id).limit(_MOVE_ROWS)
    while True:
        with source.connect() as conn:
            rows = conn.execute(page).all()
        if not rows:
            return
        values = [{c.name: row[i + 1] for i, c in enumerate(columns)} for row in rows]
        # Copied before they are deleted: a repeat after a stop finds them there already.
        with target.begin() as conn:
            conn.execute(insert(inbox).prefix_with("OR IGNORE"), values)
        with source.begin() as conn:
            conn.execute(delete(inbox).where(inbox.c.id.in_([row[0] for row in rows])))
