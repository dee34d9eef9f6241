"""status rows keyed by transaction id and user

Revision ID: 0006
Revises: 0005

A transaction id belongs to the user who first used it (D111). Until now the status rows
were keyed by the transaction id alone, so the events of another user who reused an id
updated the first user's rows. Each status table now has the user in its key: the
transactions' unique constraint is (transaction_id, user), and the sub-records' and failed
files' primary keys begin with (transaction_id, user). Existing rows take the user of
their transaction. On SQLite the tables are rebuilt (it cannot change a key in place).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

USER = sa.String(length=256)


def _transactions(unique: tuple[str, ...], name: str | None) -> sa.Table:
    """The shape of status_transactions with the given unique key (for SQLite's rebuild)."""
    table = sa.Table(
        "status_transactions",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("user", USER, nullable=False),
        sa.Column("group", sa.String(length=256), nullable=False),
        sa.Column("api_action", sa.String(length=32), nullable=False),
        sa.Column("job_label", sa.String(length=256), nullable=False),
        sa.Column("label", sa.String(length=1024), nullable=True),
        sa.Column("holding_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_updated", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint(*unique, name=name),
    )
    sa.Index("ix_status_user", table.c.user, table.c.creation_time)
    sa.Index("ix_status_group", table.c.group, table.c.creation_time)
    return table


def _keyed(name: str, columns: list[sa.Column], key: tuple[str, ...]) -> sa.Table:
    return sa.Table(name, sa.MetaData(), *columns, sa.PrimaryKeyConstraint(*key))


def _sub_records(with_user: bool) -> sa.Table:
    user = [sa.Column("user", USER, nullable=False)] if with_user else []
    key = ("transaction_id", "user", "sub_id") if with_user else ("transaction_id", "sub_id")
    return _keyed(
        "status_sub_records",
        [
            sa.Column("transaction_id", sa.String(length=64), nullable=False),
            *user,
            sa.Column("sub_id", sa.Integer(), nullable=False),
            sa.Column("state", sa.String(length=32), nullable=False),
            sa.Column("retries", sa.Integer(), nullable=False),
            sa.Column("last_updated", sa.BigInteger(), nullable=False),
        ],
        key,
    )


def _failed_files(with_user: bool) -> sa.Table:
    user = [sa.Column("user", USER, nullable=False)] if with_user else []
    key = (
        ("transaction_id", "user", "sub_id", "path")
        if with_user
        else (
            "transaction_id",
            "sub_id",
            "path",
        )
    )
    return _keyed(
        "status_failed_files",
        [
            sa.Column("transaction_id", sa.String(length=64), nullable=False),
            *user,
            sa.Column("sub_id", sa.Integer(), nullable=False),
            sa.Column("path", sa.LargeBinary(), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
        ],
        key,
    )


def upgrade() -> None:
    for table in ("status_sub_records", "status_failed_files"):
        op.add_column(table, sa.Column("user", USER, nullable=False, server_default=""))
        op.execute(
            f'UPDATE {table} SET "user" = coalesce((SELECT s."user" FROM status_transactions s '
            f"WHERE s.transaction_id = {table}.transaction_id), '')"
        )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(
            "status_transactions_transaction_id_key", "status_transactions", type_="unique"
        )
        op.create_unique_constraint(
            "uq_status_transaction_user", "status_transactions", ["transaction_id", "user"]
        )
        for table, key in (
            ("status_sub_records", ["transaction_id", "user", "sub_id"]),
            ("status_failed_files", ["transaction_id", "user", "sub_id", "path"]),
        ):
            op.alter_column(table, "user", server_default=None)
            op.drop_constraint(f"{table}_pkey", table, type_="primary")
            op.create_primary_key(f"{table}_pkey", table, key)
        return
    shapes = (
        _transactions(("transaction_id", "user"), "uq_status_transaction_user"),
        _sub_records(with_user=True),
        _failed_files(with_user=True),
    )
    for shape in shapes:
        with op.batch_alter_table(shape.name, recreate="always", copy_from=shape):
            pass


def downgrade() -> None:
    """Back to one row per transaction id: where two users share an id, only the first
    row (the lowest id) is kept, with its sub-records and failed files."""
    op.execute(
        "DELETE FROM status_transactions WHERE id NOT IN "
        "(SELECT min(id) FROM status_transactions GROUP BY transaction_id)"
    )
    for table in ("status_sub_records", "status_failed_files"):
        op.execute(
            f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM status_transactions s "
            f'WHERE s.transaction_id = {table}.transaction_id AND s."user" = {table}."user")'
        )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("uq_status_transaction_user", "status_transactions", type_="unique")
        op.create_unique_constraint(
            "status_transactions_transaction_id_key", "status_transactions", ["transaction_id"]
        )
        for table, key in (
            ("status_sub_records", ["transaction_id", "sub_id"]),
            ("status_failed_files", ["transaction_id", "sub_id", "path"]),
        ):
            op.drop_constraint(f"{table}_pkey", table, type_="primary")
            op.drop_column(table, "user")
            op.create_primary_key(f"{table}_pkey", table, key)
        return
    for shape in (
        _transactions(("transaction_id",), None),
        _sub_records(with_user=False),
        _failed_files(with_user=False),
    ):
        with op.batch_alter_table(shape.name, recreate="always", copy_from=shape):
            pass
