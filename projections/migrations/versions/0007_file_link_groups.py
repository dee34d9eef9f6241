"""hard links: each file's link group

Revision ID: 0007
Revises: 0006

A regular file of a PUT that shares its inode with others of the same PUT records the
path of the first of them in walk order, the same for every file of the group
(decision D133): a GET restores the files of one group as one inode with several names.
Null for every other file, and for the files cataloged before hard links were noted
(their events have no such field, and replay gives them null too).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("files", sa.Column("link_group", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:  # SQLite rebuilds the table to drop it
        batch.drop_column("link_group")
