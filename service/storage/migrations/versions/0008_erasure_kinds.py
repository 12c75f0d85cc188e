"""erasure kinds: whether a tombstone is a user's or a session's, for listing them

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tombstones recorded before keep NULL: a keyed hash cannot say what it was made of.
    op.add_column("erasures", sa.Column("kind", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("erasures") as batch:
        batch.drop_column("kind")
