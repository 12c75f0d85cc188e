"""session ingest key: which created ingest key sent a session, so its asset copies are fetched
from that key's origins only

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: a configured key (REPLAYDESK_INGEST_KEYS) sent it, or it was recorded before.
    for table in ("sessions", "ingest_inbox"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("ingest_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in ("ingest_inbox", "sessions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("ingest_key")
