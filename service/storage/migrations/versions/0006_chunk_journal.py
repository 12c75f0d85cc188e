"""chunk journal: chunks kept with their rows until they are in the blob store

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chunk_journal",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("blob_key", sa.String(length=512), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chunk_journal_session_id", "chunk_journal", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_chunk_journal_session_id", table_name="chunk_journal")
    op.drop_table("chunk_journal")
