"""error group rollups: groups, releases, days and users kept at ingest, for the list of groups

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_DAY_MS = 24 * 3600 * 1000

# The rollups of the occurrences stored so far (as `error_rollups.rebuild_rollups` computes
# them; written out here so this revision stays what it was).
_FILL = [
    """INSERT INTO error_groups (fingerprint, kind, title, first_ts, last_ts)
       SELECT fingerprint, min(kind), min(title), min(first_ts), max(last_ts)
       FROM error_occurrences GROUP BY fingerprint""",
    """INSERT INTO error_group_releases (fingerprint, release, last_ts)
       SELECT fingerprint, release, max(last_ts) FROM error_occurrences
       WHERE release IS NOT NULL AND release <> '' GROUP BY fingerprint, release""",
    """INSERT INTO error_group_users (fingerprint, user_id, release_key, last_ts)
       SELECT fingerprint, user_id, '', max(last_ts) FROM error_occurrences
       WHERE user_id IS NOT NULL GROUP BY fingerprint, user_id
       UNION ALL
       SELECT fingerprint, user_id, release, max(last_ts) FROM error_occurrences
       WHERE user_id IS NOT NULL AND release IS NOT NULL AND release <> ''
       GROUP BY fingerprint, user_id, release""",
    """INSERT INTO error_group_days (fingerprint, release_key, day, count, sessions, users)
       SELECT fingerprint, release_key, day, sum(n), sum(s), sum(u) FROM (
           SELECT fingerprint, '' AS release_key, last_ts / :day AS day,
                  count AS n, 1 AS s, 0 AS u
           FROM error_occurrences
           UNION ALL
           SELECT fingerprint, release, last_ts / :day, count, 1, 0 FROM error_occurrences
           WHERE release IS NOT NULL AND release <> ''
           UNION ALL
           SELECT fingerprint, release_key, last_ts / :day, 0, 0, 1 FROM error_group_users
       ) AS parts
       GROUP BY fingerprint, release_key, day""",
]


def upgrade() -> None:
    op.create_table(
        "error_groups",
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("first_ts", sa.BigInteger(), nullable=False),
        sa.Column("last_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    op.create_index("ix_error_groups_last", "error_groups", ["last_ts", "fingerprint"])
    op.create_index("ix_error_groups_kind_last", "error_groups", ["kind", "last_ts", "fingerprint"])
    op.create_table(
        "error_group_releases",
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("release", sa.String(length=128), nullable=False),
        sa.Column("last_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", "release"),
    )
    op.create_index(
        "ix_error_group_releases_last",
        "error_group_releases",
        ["release", "last_ts", "fingerprint"],
    )
    op.create_table(
        "error_group_days",
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("release_key", sa.String(length=128), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", "release_key", "day"),
    )
    op.create_table(
        "error_group_users",
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=256), nullable=False),
        sa.Column("release_key", sa.String(length=128), nullable=False),
        sa.Column("last_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", "user_id", "release_key"),
    )
    # The release filter of the list reads error_group_releases now; these two serve the
    # recounts of the rollups.
    op.drop_index("ix_error_occurrences_release_last", table_name="error_occurrences")
    op.create_index(
        "ix_error_occurrences_fingerprint_release",
        "error_occurrences",
        ["fingerprint", "release", "last_ts"],
    )
    op.create_index(
        "ix_error_occurrences_fingerprint_user",
        "error_occurrences",
        ["fingerprint", "user_id", "release", "last_ts"],
    )
    for statement in _FILL:
        filled = sa.text(statement)
        op.execute(filled.bindparams(day=_DAY_MS) if ":day" in statement else filled)


def downgrade() -> None:
    op.drop_index("ix_error_occurrences_fingerprint_user", table_name="error_occurrences")
    op.drop_index("ix_error_occurrences_fingerprint_release", table_name="error_occurrences")
    op.create_index(
        "ix_error_occurrences_release_last", "error_occurrences", ["release", "last_ts"]
    )
    op.drop_table("error_group_users")
    op.drop_table("error_group_days")
    op.drop_table("error_group_releases")
    op.drop_table("error_groups")
