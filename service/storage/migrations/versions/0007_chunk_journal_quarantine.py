"""chunk journal quarantine: entries the blob store refused alone, kept aside and counted

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("chunk_journal", sa.Column("quarantined_at", sa.BigInteger(), nullable=True))
    op.add_column(
        "chunk_journal",
        sa.Column("failed_attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("chunk_journal", sa.Column("last_error", sa.String(length=100), nullable=True))
    op.create_index("ix_chunk_journal_quarantined_at_id", "chunk_journal", ["quarantined_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_chunk_journal_quarantined_at_id", table_name="chunk_journal")
    with op.batch_alter_table("chunk_journal") as batch:
        batch.drop_column("last_error")
        batch.drop_column("failed_attempts")
        batch.drop_column("quarantined_at")
