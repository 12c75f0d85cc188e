"""error occurrences: each error's fingerprint per session, for "who else hit this"

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Sessions recorded before have no fingerprints: their errors are in no group.
    op.create_table(
        "error_occurrences",
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("user_id", sa.String(length=256), nullable=True),
        sa.Column("release", sa.String(length=128), nullable=True),
        sa.Column("first_ts", sa.BigInteger(), nullable=False),
        sa.Column("last_ts", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "fingerprint"),
    )
    op.create_index(
        "ix_error_occurrences_fingerprint_last",
        "error_occurrences",
        ["fingerprint", "last_ts", "user_id"],
    )
    op.create_index(
        "ix_error_occurrences_fingerprint_first", "error_occurrences", ["fingerprint", "first_ts"]
    )
    op.create_index("ix_error_occurrences_last", "error_occurrences", ["last_ts"])
    op.create_index(
        "ix_error_occurrences_release_last", "error_occurrences", ["release", "last_ts"]
    )


def downgrade() -> None:
    op.drop_table("error_occurrences")
