"""Where the decider keeps its fold of one catalog partition: a local SQLite file.

The log stays the truth (D190): the file is a snapshot of the fold of the partition's
first *offset* facts, which the decider reads back and then folds on from *offset*.
Files, finished transactions and the ids of applied facts live in its tables and are read
on demand, so memory holds only what changed since the last checkpoint, the unfinished
transactions and the per-user and per-holding totals. A checkpoint writes all of that and
the offset in one SQLite transaction; a crash between checkpoints loses nothing the log
does not hold.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Bumped whenever what a store holds changes shape: an older file is then rebuilt from
# the log instead of being read wrongly.
FORMAT = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
    holding_id INTEGER NOT NULL,
    path BLOB NOT NULL,
    file_id INTEGER NOT NULL,
    transaction_id TEXT NOT NULL,
    sub_batch INTEGER NOT NULL,
    size INTEGER NOT NULL,
    path_type TEXT NOT NULL,
    stored INTEGER NOT NULL,
    object_key TEXT,
    cached INTEGER NOT NULL,
    tape TEXT,
    pending TEXT,
    PRIMARY KEY (holding_id, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS files_by_id ON files (file_id);
CREATE TABLE IF NOT EXISTS transactions (
    transaction_id TEXT PRIMARY KEY,
    finished INTEGER NOT NULL,
    body BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS unfinished ON transactions (finished) WHERE finished = 0;
CREATE TABLE IF NOT EXISTS applied (event_id TEXT PRIMARY KEY) WITHOUT ROWID;
"""


class StoreTaken(RuntimeError):
    """Another process checkpointed this partition's store since this one read it."""


class StateStore:
    """One partition's store; ``memory()`` for a fold that is never saved (tests, tools)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            str(path) if path else ":memory:", isolation_level=None, check_same_thread=False
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        if path is not None:
            path.chmod(0o600)
        self.offset = int(self.meta("offset") or 0)  # facts folded into what is saved
        self.last_event_id: str | None = self.meta("last_event_id")
        written = self.meta("format")
        if written is not None and int(written) != FORMAT:
            self.clear()

    @classmethod
    def memory(cls) -> StateStore:
        return cls(None)

    def meta(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def small_state(self) -> dict[str, Any]:
        """The fold's totals saved at the last checkpoint (empty for a new store)."""
        blob = self.meta("small")
        return pickle.loads(blob) if blob else {}

    def clear(self) -> None:
        """Forget everything: the fold starts again from the partition's first fact."""
        with self.transaction():
            for table in ("meta", "files", "transactions", "applied"):
                self.db.execute(f"DELETE FROM {table}")
        self.offset, self.last_event_id = 0, None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def checkpoint(
        self, offset: int, last_event_id: str | None, small: dict[str, Any]
    ) -> Iterator[sqlite3.Connection]:
        """Write the changes (in the ``with`` block) and the offset they reach, at once.
        Refused if someone else moved the store on since this process last read or wrote
        it: their fold and ours must not be mixed."""
        with self.transaction() as db:
            if int(self.meta("offset") or 0) != self.offset:
                raise StoreTaken(f"{self.path} was checkpointed by another process")
            yield db
            values = {
                "format": FORMAT,
                "offset": offset,
                "last_event_id": last_event_id,
                "small": pickle.dumps(small, protocol=pickle.HIGHEST_PROTOCOL),
            }
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())
        self.offset, self.last_event_id = offset, last_event_id

    def close(self) -> None:
        self.db.close()
