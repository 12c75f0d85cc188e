"""viewer token revocation and audit

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_viewer_tokens",
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject"),
    )
    op.create_table(
        "viewer_token_uses",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("ticket", sa.String(length=300), nullable=True),
        sa.Column("used_at", sa.BigInteger(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column("what", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("viewer_token_uses", schema=None) as batch_op:
        batch_op.create_index("ix_token_uses_jti", ["jti"], unique=False)
        batch_op.create_index("ix_token_uses_session", ["session_id", "used_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("viewer_token_uses", schema=None) as batch_op:
        batch_op.drop_index("ix_token_uses_session")
        batch_op.drop_index("ix_token_uses_jti")

    op.drop_table("viewer_token_uses")
    op.drop_table("revoked_viewer_tokens")
