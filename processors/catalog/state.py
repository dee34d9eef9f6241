"""What the decider knows about the users of one partition: a fold over its catalog facts.

Nothing here is read from a projection: the state is the fold of catalog partition *p*'s
facts in order, kept current by applying each new fact as it is decided (write through).
Its large parts (every file, finished transactions, the ids of applied facts) live in the
partition's store and are read on demand (D190): ``open`` reads the store's last
checkpoint, the caller folds the facts after its ``offset``, and ``checkpoint`` saves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.ids import file_id
from domain.pack_keys import pack_of
from events.base import Event
from events.catalog import (
    ArchiveScheduled,
    FilesArchived,
    FilesCataloged,
    FilesDeleted,
    FilesEvicted,
    FilesRecalled,
    FilesReserved,
    FilesRetrieved,
    FilesSelected,
    HoldingCreated,
    HoldingDeleted,
    HoldingRelabeled,
    HoldingTagsChanged,
    ObjectsRemoved,
    RecallScheduled,
    TransactionAccepted,
    TransactionFinished,
    TransactionRejected,
)
from processors.catalog.records import FileEntry, Holding, Transaction
from processors.catalog.store import StateStore
from processors.catalog.tables import AppliedIds, FileTable, TransactionTable

__all__ = ["CatalogState", "FileEntry", "Holding", "Transaction"]

SMALL = ("holdings", "labels", "cache_bytes", "archive_requests", "next_sequence", "pack_slices")
"""The parts of the fold held in memory whole, saved at each checkpoint as one record."""


@dataclass
class CatalogState:
    partition: int
    partitions: int
    holdings: dict[int, Holding] = field(default_factory=dict)
    labels: dict[tuple[str, str], int] = field(default_factory=dict)
    cache_bytes: dict[str, int] = field(default_factory=dict)  # per user: reserved or stored
    store: StateStore = field(default_factory=StateStore.memory, repr=False, compare=False)
    archive_requests: dict[str, ArchiveScheduled] = field(default_factory=dict)
    next_sequence: int = 0
    # Per pack (stores/s3/packs.py): the cached files that are slices of it. A
    # pack whose count falls to 0 has no use left and is removed (D90).
    pack_slices: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.files = FileTable(self.store.db)
        self.transactions = TransactionTable(self.store.db)
        self.applied = AppliedIds(self.store.db)
        self.offset = self.store.offset  # the next fact to fold is at this offset
        self.last_event_id = self.store.last_event_id  # the fact before it

    @classmethod
    def open(cls, path: Path, partition: int, partitions: int) -> CatalogState:
        """The fold saved in the store at ``path`` (an empty one if there is none)."""
        store = StateStore(path)
        return cls(partition, partitions, store=store, **store.small_state())

    def folded(self, offset: int, event_id: str) -> None:
        """The fact at ``offset`` of the partition is folded (or was decided here)."""
        self.offset, self.last_event_id = offset + 1, event_id

    def unsaved(self) -> int:
        """How many rows the fold holds in memory beyond its totals."""
        return len(self.files) + len(self.applied.recent)

    def checkpoint(self) -> None:
        """Save the fold up to ``offset``; only facts that are in the log may be in it."""
        small: dict[str, Any] = {name: getattr(self, name) for name in SMALL}
        with self.store.checkpoint(self.offset, self.last_event_id, small) as db:
            self.files.write(db)
            self.transactions.write(db)
            self.applied.write(db)

    def unused_packs(self, keys: Iterable[str | None]) -> list[str]:
        """The packs these object keys are slices of that no cached file uses any more."""
        packs = dict.fromkeys(p for key in keys if (p := pack_of(key)) is not None)
        return [p for p in packs if not self.pack_slices.get(p)]

    def _count_slice(self, entry: FileEntry, change: int) -> None:
        pack = pack_of(entry.object_key) if entry.cached else None
        if pack is not None:
            left = self.pack_slices.get(pack, 0) + change
            if left > 0:
                self.pack_slices[pack] = left
            else:
                self.pack_slices.pop(pack, None)

    def holding_files(self, holding_id: int) -> list[tuple[bytes, FileEntry]]:
        """The paths of one holding, in path order."""
        return self.files.holding(holding_id)

    def next_holding_id(self) -> int:
        """Unique across partitions, deterministic under replay."""
        return self.next_sequence * self.partitions + self.partition + 1

    def apply(self, fact: Event) -> None:
        """Fold one catalog fact; a fact seen before (redelivery) changes nothing."""
        if fact.event_id in self.applied:
            return
        self.applied.add(fact.event_id)
        match fact:
            case HoldingCreated():
                self.holdings[fact.holding_id] = Holding(
                    fact.holding_id, fact.user, fact.group, fact.label, dict(fact.tags)
                )
                self.labels[(fact.user, fact.label)] = fact.holding_id
                sequence = (fact.holding_id - self.partition - 1) // self.partitions
                self.next_sequence = max(self.next_sequence, sequence + 1)
            case TransactionAccepted():
                self.transactions[fact.transaction_id] = Transaction(
                    fact.transaction_id,
                    fact.user,
                    fact.group,
                    fact.api_action,
                    fact.job_label,
                    fact.holding_id,
                )
            case TransactionRejected() if fact.transaction_id not in self.transactions:
                # A request reusing another user's transaction id is rejected under the
                # same id: the owner's transaction stays as it is (D111).
                self.transactions[fact.transaction_id] = Transaction(
                    fact.transaction_id,
                    fact.user,
                    fact.group,
                    fact.api_action,
                    fact.job_label,
                    None,
                    finished=True,
                )
            case FilesReserved():
                self._reserve(fact)
            case FilesCataloged():
                self._settle(fact)
            case TransactionFinished():
                transaction = self.transactions.get(fact.transaction_id)
                if transaction:
                    transaction.finished = True
                    transaction.reserved.clear()
                    transaction.deleting.clear()
                    transaction.selected.clear()
                    # A sub-batch restored straight from tape (D231) may finish its GET
                    # before its members are back in the cache: its recall is kept for
                    # the fact that records them.
                    transaction.recalls = {
                        batch: recall
                        for batch, recall in transaction.recalls.items()
                        if batch not in transaction.recalled
                    }
                    transaction.recalled.clear()
                    transaction.from_tape.clear()
                    transaction.made.clear()
            case ArchiveScheduled():
                self.archive_requests[fact.transaction_id] = fact
                for entry in self._entries(fact.holding_id, fact.file_ids):
                    entry.pending = fact.transaction_id
            case FilesArchived():
                self.archive_requests.pop(fact.transaction_id, None)
                for member in fact.members:
                    archived = self.files.get((fact.holding_id, member["path"]))
                    if archived is not None:
                        archived.tape, archived.pending = fact.aggregate, None
                failed = [f["file_id"] for f in fact.failed]
                for entry in self._entries(fact.holding_id, failed):
                    if entry.pending == fact.transaction_id:
                        entry.pending = None
            case FilesEvicted():
                for evicted in fact.files:
                    cached = self.files.get((fact.holding_id, evicted["path"]))
                    if cached is not None and cached.cached:
                        self._count_slice(cached, -1)
                        cached.cached = False
                        self.cache_bytes[fact.user] = (
                            self.cache_bytes.get(fact.user, 0) - cached.size
                        )
            case RecallScheduled():
                transaction = self.transactions.get(fact.transaction_id)
                if transaction is not None:
                    transaction.recalls[fact.sub_batch] = fact
            case FilesRecalled():
                self._recalled(fact)
            case FilesSelected():
                self._select(fact)
            case FilesRetrieved():
                self._retrieved(fact)
            case FilesDeleted():
                self._delete(fact)
            case ObjectsRemoved():
                transaction = self.transactions.get(fact.transaction_id)
                if transaction is not None:
                    deleted = transaction.deleting.pop(fact.sub_batch, None)
                    transaction.settled.add(fact.sub_batch)
                    if deleted is not None:
                        transaction.files_ok += len(deleted.files)
                        transaction.bytes_ok += sum(f["size"] for f in deleted.files)
            case HoldingDeleted():
                holding = self.holdings.pop(fact.holding_id, None)
                if holding is not None:
                    self.labels.pop((holding.user, holding.label), None)
                for path, _entry in self.holding_files(fact.holding_id):
                    self._forget(fact.user, fact.holding_id, path)
                transaction = self.transactions.get(fact.transaction_id)
                if transaction is not None:
                    transaction.holdings_deleted += 1
            case HoldingRelabeled():
                holding = self.holdings.get(fact.holding_id)
                if holding is not None:
                    self.labels.pop((holding.user, holding.label), None)
                    holding.label = fact.label
                    self.labels[(holding.user, fact.label)] = holding.id
            case HoldingTagsChanged():
                holding = self.holdings.get(fact.holding_id)
                if holding is not None:
                    holding.tags = dict(fact.tags)

    def _select(self, fact: FilesSelected) -> None:
        transaction = self.transactions.get(fact.transaction_id)
        if transaction is None:
            return
        transaction.selected[fact.sub_batch] = fact
        transaction.target = fact.target
        transaction.files_failed += len(fact.unavailable)
        if fact.last:
            transaction.batch_count = fact.sub_batch + 1

    def _recalled(self, fact: FilesRecalled) -> None:
        """The files are cached again: in their owner's cache use, and evictable again."""
        transaction = self.transactions.get(fact.transaction_id)
        if transaction is not None and transaction.finished:
            transaction.recalls.pop(fact.sub_batch, None)  # recorded after its GET (D231)
        elif transaction is not None:
            transaction.recalled[fact.sub_batch] = fact
        holding = self.holdings.get(fact.holding_id)
        for recalled in fact.recalled:
            entry = self.entry_of(fact.holding_id, recalled["file_id"], recalled["path"])
            if holding is not None and entry is not None and not entry.cached:
                entry.cached = True
                entry.object_key = recalled["object_key"]
                self._count_slice(entry, +1)
                self.cache_bytes[holding.user] = self.cache_bytes.get(holding.user, 0) + entry.size

    def _retrieved(self, fact: FilesRetrieved) -> None:
        transaction = self.transactions.get(fact.transaction_id)
        if transaction is None:
            return
        if fact.finishing:  # its entries were counted by their own sub-batches
            transaction.finishing_settled.add(fact.sub_batch)
            return
        selected = transaction.selected.pop(fact.sub_batch, None)
        if selected is not None and fact.created:
            entries = {f["path"]: f for f in selected.files}
            made = [entries[path] for path in fact.created if path in entries]
            transaction.made.update((f["path"], f) for f in made)
        transaction.settled.add(fact.sub_batch)
        transaction.files_ok += len(fact.restored)
        transaction.files_failed += len(fact.failed)
        transaction.bytes_ok += sum(r["size"] for r in fact.restored)

    def _forget(self, user: str, holding_id: int, path: bytes) -> None:
        entry = self.files.pop((holding_id, path))
        if entry is not None:
            self._count_slice(entry, -1)
            if entry.cached:
                self.cache_bytes[user] = self.cache_bytes.get(user, 0) - entry.size

    def _delete(self, fact: FilesDeleted) -> None:
        transaction = self.transactions.get(fact.transaction_id)
        if transaction is None:
            return
        transaction.deleting[fact.sub_batch] = fact
        transaction.files_failed += len(fact.refused)
        if fact.last:
            transaction.batch_count = fact.sub_batch + 1
        for deleted in fact.files:
            entry = self.files.get((fact.holding_id, deleted["path"]))
            if entry is not None and entry.transaction_id == deleted["transaction_id"]:
                self._forget(fact.user, fact.holding_id, deleted["path"])

    def _reserve(self, fact: FilesReserved) -> None:
        transaction = self.transactions.get(fact.transaction_id)
        if transaction is None:
            return
        transaction.reserved[fact.sub_batch] = fact
        transaction.files_failed += len(fact.refused)
        if fact.last:
            transaction.batch_count = fact.sub_batch + 1
        for entry in fact.files:
            key = (fact.holding_id, entry["path"])
            if key in self.files:
                continue
            self.files[key] = FileEntry(
                fact.transaction_id, fact.sub_batch, entry["size"], entry["path_type"]
            )
            self.cache_bytes[fact.user] = self.cache_bytes.get(fact.user, 0) + entry["size"]

    def _settle(self, fact: FilesCataloged) -> None:
        transaction = self.transactions.get(fact.transaction_id)
        if transaction is None:
            return
        transaction.reserved.pop(fact.sub_batch, None)
        transaction.settled.add(fact.sub_batch)
        transaction.files_ok += len(fact.files)
        transaction.files_failed += len(fact.failed)
        for cataloged in fact.files:
            transaction.bytes_ok += cataloged["size"]
            entry = self.files.get((fact.holding_id, cataloged["path"]))
            if entry is not None and entry.transaction_id == fact.transaction_id:
                entry.stored = True
                entry.object_key = cataloged["object_key"]
                self._count_slice(entry, +1)
        for failure in fact.failed:
            entry = self.files.get((fact.holding_id, failure["path"]))
            if entry is not None and entry.transaction_id == fact.transaction_id:
                # The reservation is released: the path is free again.
                self._forget(fact.user, fact.holding_id, failure["path"])

    def entry_of(self, holding_id: int, file_id_: int, path: bytes) -> FileEntry | None:
        """The file with this catalog id, if it is still the one at ``path``."""
        entry = self.files.get((holding_id, path))
        if entry is None or self.files.key_of(file_id_) != (holding_id, path):
            return None
        if file_id(holding_id, entry.transaction_id, path) != file_id_:
            return None  # another version of the path
        return entry

    def _entries(self, holding_id: int, file_ids: list[int]) -> list[FileEntry]:
        found = []
        for id_ in file_ids:
            key = self.files.key_of(id_)
            entry = self.files.get(key) if key is not None and key[0] == holding_id else None
            if entry is not None:
                found.append(entry)
        return found
