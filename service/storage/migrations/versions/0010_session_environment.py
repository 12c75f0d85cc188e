"""session environment: browser, OS and release to search by, and the whole of it as JSON

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Sessions recorded before keep NULL: their recorder did not say.
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("browser", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("os", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("release", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("environment", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        for name in ("environment", "release", "os", "browser"):
            batch.drop_column(name)
