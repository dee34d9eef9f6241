"""tape copies: aggregates, their members' offsets, and files in flight to tape

Revision ID: 0005
Revises: 0004

Tape copies are ``locations`` rows with storage_type TAPE (root: the aggregate, path: the
member's name in it); ``aggregate_members`` says where each member's bytes are in its
aggregate, so that a recall reads only those. ``archive_pending`` holds the files the
archive sweep sent and whose outcome is not known yet. Plain tables: the same on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aggregates",
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("holding_id", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("adler32", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_aggregates_holding", "aggregates", ["holding_id"])
    op.create_table(
        "aggregate_members",
        sa.Column("file_id", sa.BigInteger(), nullable=False),
        sa.Column("aggregate", sa.String(length=1024), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["aggregate"], ["aggregates.name"]),
        sa.PrimaryKeyConstraint("file_id"),
    )
    op.create_index("ix_aggregate_members_aggregate", "aggregate_members", ["aggregate"])
    op.create_table(
        "archive_pending",
        sa.Column("file_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("since", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("file_id"),
    )
    op.create_index("ix_locations_type_access", "locations", ["storage_type", "access_time"])


def downgrade() -> None:
    op.drop_index("ix_locations_type_access", table_name="locations")
    op.drop_table("archive_pending")
    op.drop_index("ix_aggregate_members_aggregate", table_name="aggregate_members")
    op.drop_table("aggregate_members")
    op.drop_index("ix_aggregates_holding", table_name="aggregates")
    op.drop_table("aggregates")
