"""write uncertainty: whether an attach retry or an issue retry must look for an earlier write

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "ticket_attachments",
        sa.Column("write_uncertain", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    # Before this column every started attempt counted as one that may have written.
    attachments = sa.table(
        "ticket_attachments",
        sa.column("attempts", sa.Integer()),
        sa.column("write_uncertain", sa.Boolean()),
    )
    op.execute(attachments.update().where(attachments.c.attempts > 0).values(write_uncertain=True))
    op.create_table(
        "issue_attempts",
        sa.Column("job_id", sa.String(length=80), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("write_uncertain", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )


def downgrade() -> None:
    op.drop_table("issue_attempts")
    with op.batch_alter_table("ticket_attachments") as batch:
        batch.drop_column("write_uncertain")
