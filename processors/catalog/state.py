"""What the decider knows about the users of one partition: a fold over its catalog facts.

Nothing here is read from a projection: the state is rebuilt by applying the facts of
catalog partition *p* in order, and kept current by applying each new fact as it is
decided (write through).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from events.base import Event
from events.catalog import (
    FilesCataloged,
    FilesReserved,
    FilesRetrieved,
    FilesSelected,
    HoldingCreated,
    TransactionAccepted,
    TransactionFinished,
    TransactionRejected,
)


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


@dataclass
class Transaction:
    transaction_id: str
    user: str
    group: str
    api_action: str
    job_label: str
    holding_id: int | None
    reserved: dict[int, FilesReserved] = field(default_factory=dict)  # unsettled sub-batches
    selected: dict[int, FilesSelected] = field(default_factory=dict)  # a GET's, unsettled
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
            case FilesSelected():
                self._select(fact)
            case FilesRetrieved():
                self._retrieved(fact)
            case TransactionFinished():
                transaction = self.transactions.get(fact.transaction_id)
                if transaction:
                    transaction.finished = True
                    transaction.reserved.clear()
                    transaction.selected.clear()

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

    def _select(self, fact: FilesSelected) -> None:
        transaction = self.transactions.get(fact.transaction_id)
        if transaction is None:
            return
        transaction.selected[fact.sub_batch] = fact
        transaction.files_failed += len(fact.unavailable)
        if fact.last:
            transaction.batch_count = fact.sub_batch + 1

    def _retrieved(self, fact: FilesRetrieved) -> None:
        transaction = self.transactions.get(fact.transaction_id)
        if transaction is None:
            return
        transaction.selected.pop(fact.sub_batch, None)
        transaction.settled.add(fact.sub_batch)
        transaction.files_ok += len(fact.restored)
        transaction.files_failed += len(fact.failed)
        transaction.bytes_ok += sum(r["size"] for r in fact.restored)
