"""inbox and chunk journal ids never reused on SQLite: a worker settling rows it read earlier
must not delete a batch or chunk queued since under the id of one removed meanwhile

Without AUTOINCREMENT, SQLite hands the largest id again once its row is deleted. A processing
worker that read inbox row N, while another worker (a second replica's) or an erasure removed
it and a new batch took id N, deleted the new batch with its own and lost it. A chunk mover
that read journal entry N while another process's mover moved it, and a new chunk took id N,
deleted the new chunk before it reached the blob store. PostgreSQL's sequences never reuse a
value.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLES = ("ingest_inbox", "chunk_journal")


def upgrade() -> None:
    _remake(autoincrement=True)


def downgrade() -> None:
    _remake(autoincrement=False)


def _remake(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # AUTOINCREMENT is set when a table is created: each is made again, rows and all.
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
