"""The projected tables: the holdings catalog, transaction status, and the Kafka
positions each projection has applied (written in the same transaction as its rows)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

positions = Table(
    "projection_positions",
    metadata,
    Column("projection", String(64), primary_key=True),
    Column("topic", String(249), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)

holdings = Table(
    "holdings",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("user", String(256), nullable=False),
    Column("group", String(256), nullable=False),
    Column("label", String(1024), nullable=False),
    Column("transaction_id", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),  # epoch milliseconds
    Column("deleted", Boolean, nullable=False, default=False),
    UniqueConstraint("user", "label", name="uq_holdings_user_label"),
)
Index("ix_holdings_group", holdings.c.group)

tags = Table(
    "holding_tags",
    metadata,
    Column(
        "holding_id", BigInteger, ForeignKey("holdings.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("key", String(256), primary_key=True),
    Column("value", String(1024), nullable=False),
)
Index("ix_holding_tags_key_value", tags.c.key, tags.c.value)

transactions = Table(
    "transactions",
    metadata,
    Column("transaction_id", String(64), primary_key=True),
    Column("holding_id", BigInteger, nullable=True),
    Column("user", String(256), nullable=False),
    Column("group", String(256), nullable=False),
    Column("api_action", String(32), nullable=False),
    Column("job_label", String(256), nullable=False),
    Column("ingest_time", BigInteger, nullable=False),
)
Index("ix_transactions_holding", transactions.c.holding_id)

files = Table(
    "files",
    metadata,
    # Derived from (holding, transaction, path): replay and redelivery give the same id.
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("holding_id", BigInteger, ForeignKey("holdings.id", ondelete="CASCADE"), nullable=False),
    Column("transaction_id", String(64), nullable=False),
    Column("path", LargeBinary, nullable=False),  # bytes as on disk: may not be UTF-8
    Column("path_type", String(16), nullable=False),
    Column("link_path", LargeBinary, nullable=True),
    Column("size", BigInteger, nullable=False),
    Column("mode", Integer, nullable=False),
    Column("uid", Integer, nullable=False),
    Column("gid", Integer, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    # Hard links of one PUT (D133): the path of the group's first file, the same for all.
    Column("link_group", LargeBinary, nullable=True),
    Column("state", String(16), nullable=False),  # RESERVED, CATALOGED, DELETED
    Column("created_at", BigInteger, nullable=False),
    # Unique among live files (the decider's rule); a deleted version may share the path.
)
Index("ix_files_holding_path", files.c.holding_id, files.c.path)
Index("ix_files_path", files.c.path)
Index("ix_files_transaction", files.c.transaction_id)

checksums = Table(
    "checksums",
    metadata,
    Column("file_id", BigInteger, ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    Column("algorithm", String(16), primary_key=True),  # ADLER32, SHA256
    Column("value", String(128), nullable=False),
)

locations = Table(
    "locations",
    metadata,
    Column("file_id", BigInteger, ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    Column("storage_type", String(16), primary_key=True),  # OBJECT_STORAGE, TAPE
    Column("root", String(1024), nullable=False),  # bucket, or tape aggregate
    Column("path", Text, nullable=False),  # object key, or member path in the aggregate
    Column("access_time", BigInteger, nullable=False),
)

Index("ix_locations_type_access", locations.c.storage_type, locations.c.access_time)

aggregates = Table(
    "aggregates",
    metadata,
    Column("name", String(1024), primary_key=True),  # tape path under the endpoint's root
    Column("holding_id", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("adler32", String(8), nullable=False),  # of the whole tar, as the endpoint has it
    Column("created_at", BigInteger, nullable=False),
)
Index("ix_aggregates_holding", aggregates.c.holding_id)

aggregate_members = Table(
    "aggregate_members",
    metadata,
    # One tape copy per file: a re-run never makes a second one.
    Column("file_id", BigInteger, ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    Column("aggregate", String(1024), ForeignKey("aggregates.name"), nullable=False),
    Column("offset", BigInteger, nullable=False),  # of the member's data in the tar
    Column("size", BigInteger, nullable=False),
)
Index("ix_aggregate_members_aggregate", aggregate_members.c.aggregate)

archive_pending = Table(
    "archive_pending",
    metadata,
    # Files sent to tape whose outcome is not known yet: the sweep does not send them again.
    Column("file_id", BigInteger, ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    Column("transaction_id", String(64), nullable=False),
    Column("since", BigInteger, nullable=False),
)

status_transactions = Table(
    "status_transactions",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("transaction_id", String(64), nullable=False),
    Column("user", String(256), nullable=False),
    Column("group", String(256), nullable=False),
    Column("api_action", String(32), nullable=False),
    Column("job_label", String(256), nullable=False),
    Column("label", String(1024), nullable=True),
    Column("holding_id", BigInteger, nullable=True),
    Column("state", String(32), nullable=False),
    Column("warnings", JSON, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    # Files and bytes done out of totals: the sums of its sub-records' (D132); null while
    # none of them has figures.
    Column("files_done", BigInteger, nullable=True),
    Column("files_total", BigInteger, nullable=True),
    Column("bytes_done", BigInteger, nullable=True),
    Column("bytes_total", BigInteger, nullable=True),
    # A transaction id is the user's: rows of two users never share a key, so that one
    # user's events can never change another's status (D111).
    UniqueConstraint("transaction_id", "user", name="uq_status_transaction_user"),
)
Index("ix_status_user", status_transactions.c.user, status_transactions.c.creation_time)
Index("ix_status_group", status_transactions.c.group, status_transactions.c.creation_time)
# PostgreSQL also has ix_files_path_text_trgm, a pg_trgm index on nearline_path_text(path)
# for regex searches of paths (migration 0002); it has no portable declaration here.

status_sub_records = Table(
    "status_sub_records",
    metadata,
    Column("transaction_id", String(64), primary_key=True),
    Column("user", String(256), primary_key=True),
    Column("sub_id", Integer, primary_key=True),
    Column("state", String(32), nullable=False),
    Column("retries", Integer, nullable=False, default=0),
    Column("last_updated", BigInteger, nullable=False),
    # How far the sub-batch's step got (D132): the state whose step the figures count,
    # and files and bytes done out of its totals; null until a figure is reported.
    Column("progress_state", String(32), nullable=True),
    Column("files_done", BigInteger, nullable=True),
    Column("files_total", BigInteger, nullable=True),
    Column("bytes_done", BigInteger, nullable=True),
    Column("bytes_total", BigInteger, nullable=True),
)

status_failed_files = Table(
    "status_failed_files",
    metadata,
    Column("transaction_id", String(64), primary_key=True),
    Column("user", String(256), primary_key=True),
    Column("sub_id", Integer, primary_key=True),
    Column("path", LargeBinary, primary_key=True),
    Column("reason", Text, nullable=False),
)

carts = Table(
    "carts",
    metadata,
    Column("cart_id", String(64), primary_key=True),
    Column("user", String(256), nullable=False),
    Column("group", String(256), nullable=False),
    # waiting, staging, bundling, ready, error; deleted and purged are kept as tombstones
    Column("state", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("file_count", Integer, nullable=False),
    Column("total_size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),  # epoch milliseconds
    Column("updated_at", BigInteger, nullable=False),
    Column("last_access", BigInteger, nullable=True),  # last download began
    # Carts asked for on Pacifica's wire: the client's name for the cart, its bundle flag.
    Column("client_uid", String(128), nullable=True),
    Column("bundle", Boolean, nullable=True),
)
Index("ix_carts_user", carts.c.user, carts.c.state)
Index("ix_carts_client_uid", carts.c.user, carts.c.client_uid)

cart_files = Table(
    "cart_files",
    metadata,
    Column("cart_id", String(64), primary_key=True),
    Column("position", Integer, primary_key=True),  # order in the tar
    Column("file_id", BigInteger, nullable=False),
)

# The name of each file of a client's cart in its tar, by position (as cart_files).
cart_entries = Table(
    "cart_entries",
    metadata,
    Column("cart_id", String(64), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("member", LargeBinary, nullable=False),
)
