"""status rows with files and bytes done out of totals

Revision ID: 0008
Revises: 0007

How far a sub-batch's step got (decision D132): each sub-record keeps the state its
figures count (``progress_state``) and files and bytes done out of that step's totals;
each transaction the sums of its sub-records' figures. All null until an event reports
figures: rows made before stay as they were, and a replay of their events (which carry
no figures) gives them null too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FIGURES = ("files_done", "files_total", "bytes_done", "bytes_total")


def upgrade() -> None:
    op.add_column("status_sub_records", sa.Column("progress_state", sa.String(32), nullable=True))
    for table in ("status_sub_records", "status_transactions"):
        for name in FIGURES:
            op.add_column(table, sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table, extra in (("status_sub_records", ("progress_state",)), ("status_transactions", ())):
        with op.batch_alter_table(table) as batch:  # SQLite rebuilds the table to drop them
            for name in (*extra, *FIGURES):
                batch.drop_column(name)
