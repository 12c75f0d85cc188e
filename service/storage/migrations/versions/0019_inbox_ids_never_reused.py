"""ingest inbox ids never reused on SQLite: a worker settling rows it read earlier must not
delete a batch queued since under the id of one removed meanwhile

Without AUTOINCREMENT, SQLite hands the largest id again once its row is deleted: a processing
worker that read row N, while another worker (a second replica's) or an erasure removed it and
a new batch took id N, deleted the new batch with its own and lost it. PostgreSQL's sequence
never reuses a value.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # AUTOINCREMENT is set when a table is created: the table is made again, rows and all.
    with op.batch_alter_table(
        "ingest_inbox", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "ingest_inbox", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ):
        pass
