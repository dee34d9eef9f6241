"""What the decider knows about the users of one partition: a fold over its catalog facts.

Nothing here is read from a projection: the state is rebuilt by applying the facts of
catalog partition *p* in order, and kept current by applying each new fact as it is
decided (write through).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from events.base import Event
from events.catalog import (
    ArchiveScheduled,
    FilesArchived,
    FilesCataloged,
    FilesEvicted,
    FilesReserved,
    HoldingCreated,
    TransactionAccepted,
    TransactionFinished,
    TransactionRejected,
)
from projections.writes import file_id


@dataclass
class Holding:
    id: int
    user: str
    group: str
    label: str
    tags: dict[str, str]


@dataclass
class FileEntry:
    """A path in a holding: reserved by a transaction until its transfer settles."""

    transaction_id: str
    sub_batch: int
    stored: bool = False
    cached: bool = True  # the S3 cache holds its object (until evicted)
    tape: str | None = None  # the aggregate holding its verified tape copy
    pending: str | None = None  # the archive request it is in flight with


@dataclass
class Transaction:
    transaction_id: str
    user: str
    group: str
    api_action: str
    job_label: str
    holding_id: int | None
    reserved: dict[int, FilesReserved] = field(default_factory=dict)  # unsettled sub-batches
    settled: set[int] = field(default_factory=set)
    batch_count: int | None = None  # known once the last sub-batch was indexed
    files_ok: int = 0
    files_failed: int = 0
    bytes_ok: int = 0
    finished: bool = False

    @property
    def indexed(self) -> set[int]:
        return set(self.reserved) | self.settled

    def complete(self) -> bool:
        """Every sub-batch of a finished index has settled."""
        return self.batch_count is not None and len(self.settled) >= self.batch_count


@dataclass
class CatalogState:
    partition: int
    partitions: int
    holdings: dict[int, Holding] = field(default_factory=dict)
    labels: dict[tuple[str, str], int] = field(default_factory=dict)
    files: dict[tuple[int, bytes], FileEntry] = field(default_factory=dict)
    transactions: dict[str, Transaction] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)  # event ids folded so far
    by_id: dict[int, tuple[int, bytes]] = field(default_factory=dict)  # file id: key
    archive_requests: dict[str, ArchiveScheduled] = field(default_factory=dict)
    next_sequence: int = 0

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
            case TransactionRejected():
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
                    if cached is not None:
                        cached.cached = False
            case TransactionFinished():
                transaction = self.transactions.get(fact.transaction_id)
                if transaction:
                    transaction.finished = True
                    transaction.reserved.clear()

    def _reserve(self, fact: FilesReserved) -> None:
        transaction = self.transactions.get(fact.transaction_id)
        if transaction is None:
            return
        transaction.reserved[fact.sub_batch] = fact
        transaction.files_failed += len(fact.refused)
        if fact.last:
            transaction.batch_count = fact.sub_batch + 1
        for entry in fact.files:
            self.files[(fact.holding_id, entry["path"])] = FileEntry(
                fact.transaction_id, fact.sub_batch
            )
            self.by_id[file_id(fact.holding_id, fact.transaction_id, entry["path"])] = (
                fact.holding_id,
                entry["path"],
            )

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
            if entry is not None:
                entry.stored = True
        for failure in fact.failed:
            key = (fact.holding_id, failure["path"])
            entry = self.files.get(key)
            if entry is not None and entry.transaction_id == fact.transaction_id:
                del self.files[key]  # the reservation is released: the path is free again

    def entry_of(self, holding_id: int, file_id_: int, path: bytes) -> FileEntry | None:
        """The file with this catalog id, if it is still the one at ``path``."""
        entry = self.files.get((holding_id, path))
        if entry is None or self.by_id.get(file_id_) != (holding_id, path):
            return None
        if file_id(holding_id, entry.transaction_id, path) != file_id_:
            return None  # another version of the path
        return entry

    def _entries(self, holding_id: int, file_ids: list[int]) -> list[FileEntry]:
        found = []
        for id_ in file_ids:
            key = self.by_id.get(id_)
            if key is not None and key[0] == holding_id and key in self.files:
                found.append(self.files[key])
        return found
