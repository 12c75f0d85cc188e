"""the customer a ticket attachment is for

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_attachments") as batch:
        batch.add_column(sa.Column("user_id", sa.String(length=256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket_attachments") as batch:
        batch.drop_column("user_id")
