"""struggles over the session: each batch's activity spans, error click counts, last click

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batches stored before keep NULL: their activity was not kept, so none of their clicks is
    # judged dead again (their stored struggle signals stay as they were derived).
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("activity", sa.JSON(), nullable=True))
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(
            sa.Column("error_click_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("last_click_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("last_click_at")
        batch.drop_column("error_click_count")
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("activity")
