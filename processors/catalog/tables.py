"""The large parts of the decider's fold, read from its store on demand (D190).

Each table keeps in memory only the rows read or changed since the last checkpoint, and
writes back those that changed when the store checkpoints. Decisions change entries and
transactions in place, as they did when everything was in memory: a row read stays the
same object until the checkpoint, so no change is lost between a read and the write.
"""

from __future__ import annotations

import pickle
import sqlite3
from dataclasses import dataclass, field

from domain.ids import file_id
from processors.catalog.records import FileEntry, Transaction

Key = tuple[int, bytes]  # (holding id, path)

ENTRY_COLUMNS = (
    "transaction_id, sub_batch, size, path_type, stored, object_key, cached, tape, pending"
)


def _row(e: FileEntry) -> tuple:
    """An entry's columns (dataclasses' ``astuple`` deep-copies: ten times slower)."""
    return (
        e.transaction_id,
        e.sub_batch,
        e.size,
        e.path_type,
        e.stored,
        e.object_key,
        e.cached,
        e.tape,
        e.pending,
    )


def _entry(row: tuple) -> FileEntry:
    tx, sub_batch, size, path_type, stored, object_key, cached, tape, pending = row
    return FileEntry(
        tx, sub_batch, size, path_type, bool(stored), object_key, bool(cached), tape, pending
    )


@dataclass
class FileTable:
    """Every path of the partition's holdings: (holding id, path) to its entry."""

    db: sqlite3.Connection
    # Read or changed since the checkpoint: the entry, or None where the path was removed.
    touched: dict[Key, FileEntry | None] = field(default_factory=dict)
    # What the store holds for each touched key (None: nothing), to write only changes.
    saved: dict[Key, tuple | None] = field(default_factory=dict)
    # File ids of touched keys: the key whose current version has the id, or None.
    ids: dict[int, Key | None] = field(default_factory=dict)

    def get(self, key: Key) -> FileEntry | None:
        if key in self.touched:
            return self.touched[key]
        row = self.db.execute(
            f"SELECT {ENTRY_COLUMNS} FROM files WHERE holding_id = ? AND path = ?",
            key,
        ).fetchone()
        entry = _entry(row) if row else None
        self.touched[key] = entry
        self.saved[key] = _row(entry) if entry else None
        return entry

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and self.get(key) is not None

    def __getitem__(self, key: Key) -> FileEntry:
        entry = self.get(key)
        if entry is None:
            raise KeyError(key)
        return entry

    def __setitem__(self, key: Key, entry: FileEntry) -> None:
        """A new path (or a new version of one removed): its file id finds it from now."""
        self.get(key)  # what the store holds, so that the checkpoint knows what changed
        self.touched[key] = entry
        self.ids[file_id(key[0], entry.transaction_id, key[1])] = key

    def pop(self, key: Key) -> FileEntry | None:
        entry = self.get(key)
        if entry is not None:
            self.touched[key] = None
            self.ids[file_id(key[0], entry.transaction_id, key[1])] = None
        return entry

    def key_of(self, id_: int) -> Key | None:
        """The key of the path whose current version has this file id."""
        if id_ in self.ids:
            return self.ids[id_]
        row = self.db.execute(
            "SELECT holding_id, path FROM files WHERE file_id = ?", (id_,)
        ).fetchone()
        if row is None:
            return None
        key = (row[0], row[1])
        entry = self.get(key)  # a change since the checkpoint may have replaced it
        found = entry is not None and file_id(key[0], entry.transaction_id, key[1]) == id_
        return key if found else None

    def holding(self, holding_id: int) -> list[tuple[bytes, FileEntry]]:
        """The paths of one holding in path order, with their entries. Entries read here
        are not kept: the caller reads them (a holding may hold millions of files)."""
        rows = self.db.execute(
            f"SELECT path, {ENTRY_COLUMNS} FROM files WHERE holding_id = ?",
            (holding_id,),
        )
        touched = self.touched
        found = {row[0]: _entry(row[1:]) for row in rows if (holding_id, row[0]) not in touched}
        for (holding, path), entry in self.touched.items():
            if holding == holding_id and entry is not None:
                found[path] = entry
        return sorted(found.items())

    def keys(self) -> set[Key]:
        """Every key (for tests and tools: it reads the whole table)."""
        stored = {(row[0], row[1]) for row in self.db.execute("SELECT holding_id, path FROM files")}
        removed = {key for key, entry in self.touched.items() if entry is None}
        added = {key for key, entry in self.touched.items() if entry is not None}
        return (stored - removed) | added

    def write(self, db: sqlite3.Connection) -> None:
        """Write back what changed since the last checkpoint, and forget it."""
        upserts, deletes = [], []
        for key, entry in self.touched.items():
            before = self.saved.get(key)
            if entry is None:
                if before is not None:
                    deletes.append(key)
            elif _row(entry) != before:
                upserts.append((*key, file_id(key[0], entry.transaction_id, key[1]), *_row(entry)))
        db.executemany("DELETE FROM files WHERE holding_id = ? AND path = ?", deletes)
        db.executemany(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", upserts
        )
        self.touched.clear()
        self.saved.clear()
        self.ids.clear()

    def __len__(self) -> int:
        """How many rows are held in memory (what a checkpoint releases)."""
        return len(self.touched)


@dataclass
class TransactionTable:
    """Transactions by id: the unfinished ones always in memory, the finished in the store.
    Decisions change a transaction in place, having got it by id: a checkpoint writes
    only those got or set since the one before (``unfinished()`` is for reading)."""

    db: sqlite3.Connection
    live: dict[str, Transaction] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        rows = self.db.execute("SELECT body FROM transactions WHERE finished = 0")
        self.live = {t.transaction_id: t for t in (pickle.loads(row[0]) for row in rows)}

    def get(self, transaction_id: str) -> Transaction | None:
        found = self.live.get(transaction_id)
        if found is None:
            row = self.db.execute(
                "SELECT body FROM transactions WHERE transaction_id = ?", (transaction_id,)
            ).fetchone()
            if row is not None:
                found = self.live[transaction_id] = pickle.loads(row[0])
        if found is not None:
            self.touched.add(transaction_id)
        return found

    def __contains__(self, transaction_id: object) -> bool:
        return isinstance(transaction_id, str) and self.get(transaction_id) is not None

    def __getitem__(self, transaction_id: str) -> Transaction:
        found = self.get(transaction_id)
        if found is None:
            raise KeyError(transaction_id)
        return found

    def __setitem__(self, transaction_id: str, transaction: Transaction) -> None:
        self.live[transaction_id] = transaction
        self.touched.add(transaction_id)

    def unfinished(self) -> list[Transaction]:
        """Every transaction not finished (all are in memory)."""
        return [t for t in self.live.values() if not t.finished]

    def write(self, db: sqlite3.Connection) -> None:
        """Save the transactions touched since the last write; keep only the unfinished
        ones in memory."""
        changed = (self.live[i] for i in self.touched if i in self.live)
        db.executemany(
            "INSERT OR REPLACE INTO transactions VALUES (?, ?, ?)",
            (
                (t.transaction_id, t.finished, pickle.dumps(t, pickle.HIGHEST_PROTOCOL))
                for t in changed
            ),
        )
        self.touched.clear()
        self.live = {i: t for i, t in self.live.items() if not t.finished}


@dataclass
class AppliedIds:
    """The ids of every fact folded: a fact seen again (redelivered) is not folded twice."""

    db: sqlite3.Connection
    recent: set[str] = field(default_factory=set)

    def __contains__(self, event_id: object) -> bool:
        if event_id in self.recent:
            return True
        found = self.db.execute("SELECT 1 FROM applied WHERE event_id = ?", (event_id,))
        return found.fetchone() is not None

    def add(self, event_id: str) -> None:
        self.recent.add(event_id)

    def write(self, db: sqlite3.Connection) -> None:
        db.executemany("INSERT OR IGNORE INTO applied VALUES (?)", ((i,) for i in self.recent))
        self.recent.clear()
