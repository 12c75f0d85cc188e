"""session assets: copies of the stylesheets, fonts and images sessions reference

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_table(
        "session_assets",
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("url_hash", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("asset_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "url_hash"),
    )
    op.create_index("ix_session_assets_asset", "session_assets", ["asset_hash"])
    op.create_table(
        "asset_scans",
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("scanned_seq", sa.BigInteger(), nullable=False),
        sa.Column("page_href", sa.Text(), nullable=True),
        sa.Column("fetched_bytes", sa.BigInteger(), nullable=False),
        sa.Column("scanned_at", sa.BigInteger(), nullable=False),
        sa.Column("claimed_until", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("session_id"),
    )


def downgrade() -> None:
    op.drop_table("asset_scans")
    op.drop_index("ix_session_assets_asset", table_name="session_assets")
    op.drop_table("session_assets")
    op.drop_table("assets")
