"""carts: cart states and the files of each cart

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
    op.create_table(
        "carts",
        sa.Column("cart_id", sa.String(length=64), nullable=False),
        sa.Column("user", sa.String(length=256), nullable=False),
        sa.Column("group", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("total_size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("last_access", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("cart_id"),
    )
    op.create_index("ix_carts_user", "carts", ["user", "state"], unique=False)
    op.create_table(
        "cart_files",
        sa.Column("cart_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("cart_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("cart_files")
    op.drop_index("ix_carts_user", table_name="carts")
    op.drop_table("carts")
