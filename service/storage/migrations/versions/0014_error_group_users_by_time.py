"""error group users by time: "other users since T" counts the users of T's own day only

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_error_group_users_last",
        "error_group_users",
        ["fingerprint", "release_key", "last_ts", "user_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_error_group_users_last", table_name="error_group_users")
