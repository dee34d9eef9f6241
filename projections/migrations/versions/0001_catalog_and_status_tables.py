"""catalog and status tables

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holdings",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user", sa.String(length=256), nullable=False),
        sa.Column("group", sa.String(length=256), nullable=False),
        sa.Column("label", sa.String(length=1024), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user", "label", name="uq_holdings_user_label"),
    )
    with op.batch_alter_table("holdings", schema=None) as batch_op:
        batch_op.create_index("ix_holdings_group", ["group"], unique=False)

    op.create_table(
        "projection_positions",
        sa.Column("projection", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("projection", "topic", "partition"),
    )
    op.create_table(
        "status_failed_files",
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("sub_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("transaction_id", "sub_id", "path"),
    )
    op.create_table(
        "status_sub_records",
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("sub_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("transaction_id", "sub_id"),
    )
    op.create_table(
        "status_transactions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("user", sa.String(length=256), nullable=False),
        sa.Column("group", sa.String(length=256), nullable=False),
        sa.Column("api_action", sa.String(length=32), nullable=False),
        sa.Column("job_label", sa.String(length=256), nullable=False),
        sa.Column("label", sa.String(length=1024), nullable=True),
        sa.Column("holding_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transaction_id"),
    )
    with op.batch_alter_table("status_transactions", schema=None) as batch_op:
        batch_op.create_index("ix_status_user", ["user", "creation_time"], unique=False)

    op.create_table(
        "transactions",
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("holding_id", sa.BigInteger(), nullable=True),
        sa.Column("user", sa.String(length=256), nullable=False),
        sa.Column("group", sa.String(length=256), nullable=False),
        sa.Column("api_action", sa.String(length=32), nullable=False),
        sa.Column("job_label", sa.String(length=256), nullable=False),
        sa.Column("ingest_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("transaction_id"),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index("ix_transactions_holding", ["holding_id"], unique=False)

    op.create_table(
        "files",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("holding_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("path", sa.LargeBinary(), nullable=False),
        sa.Column("path_type", sa.String(length=16), nullable=False),
        sa.Column("link_path", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.Integer(), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.Column("gid", sa.Integer(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["holding_id"], ["holdings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.create_index("ix_files_holding_path", ["holding_id", "path"], unique=False)
        batch_op.create_index("ix_files_path", ["path"], unique=False)
        batch_op.create_index("ix_files_transaction", ["transaction_id"], unique=False)

    op.create_table(
        "holding_tags",
        sa.Column("holding_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.ForeignKeyConstraint(["holding_id"], ["holdings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("holding_id", "key"),
    )
    with op.batch_alter_table("holding_tags", schema=None) as batch_op:
        batch_op.create_index("ix_holding_tags_key_value", ["key", "value"], unique=False)

    op.create_table(
        "checksums",
        sa.Column("file_id", sa.BigInteger(), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("file_id", "algorithm"),
    )
    op.create_table(
        "locations",
        sa.Column("file_id", sa.BigInteger(), nullable=False),
        sa.Column("storage_type", sa.String(length=16), nullable=False),
        sa.Column("root", sa.String(length=1024), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("access_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("file_id", "storage_type"),
    )


def downgrade() -> None:
    op.drop_table("locations")
    op.drop_table("checksums")
    with op.batch_alter_table("holding_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_holding_tags_key_value")

    op.drop_table("holding_tags")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index("ix_files_transaction")
        batch_op.drop_index("ix_files_path")
        batch_op.drop_index("ix_files_holding_path")

    op.drop_table("files")
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_transactions_holding")

    op.drop_table("transactions")
    with op.batch_alter_table("status_transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_status_user")

    op.drop_table("status_transactions")
    op.drop_table("status_sub_records")
    op.drop_table("status_failed_files")
    op.drop_table("projection_positions")
    with op.batch_alter_table("holdings", schema=None) as batch_op:
        batch_op.drop_index("ix_holdings_group")

    op.drop_table("holdings")
