"""carts named by their client, and each file's name in the tar

Revision ID: 0009
Revises: 0008

A cart asked for on Pacifica's wire has the client's own name (``client_uid``, unique
per user among live carts), the bundle flag, and for each file its name in the tar
(``cart_entries``, by position, as the client gave them). Carts of FIND's selection
have none of these.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("carts", sa.Column("client_uid", sa.String(128), nullable=True))
    op.add_column("carts", sa.Column("bundle", sa.Boolean(), nullable=True))
    op.create_index("ix_carts_client_uid", "carts", ["user", "client_uid"])
    op.create_table(
        "cart_entries",
        sa.Column("cart_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("member", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("cart_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("cart_entries")
    op.drop_index("ix_carts_client_uid", table_name="carts")
    with op.batch_alter_table("carts") as batch:  # SQLite rebuilds the table to drop them
        batch.drop_column("bundle")
        batch.drop_column("client_uid")
