"""The records of the decider's fold: holdings, paths and transactions."""

from __future__ import annotations

from dataclasses import dataclass, field

from events.catalog import (
    FilesDeleted,
    FilesRecalled,
    FilesReserved,
    FilesSelected,
    RecallScheduled,
    SelectedFile,
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
    size: int = 0
    path_type: str = "FILE"
    stored: bool = False
    object_key: str | None = None
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
    deleting: dict[int, FilesDeleted] = field(default_factory=dict)  # objects not yet removed
    selected: dict[int, FilesSelected] = field(default_factory=dict)  # a GET's, unsettled
    recalls: dict[int, RecallScheduled] = field(default_factory=dict)  # sub-batches from tape
    recalled: dict[int, FilesRecalled] = field(default_factory=dict)  # ... back in the cache
    from_tape: set[int] = field(default_factory=set)  # ... sent to restore from tape (D231)
    target: bytes | None = None  # where a GET restores to
    made: dict[bytes, SelectedFile] = field(default_factory=dict)  # directories a GET made
    finishing_settled: set[int] = field(default_factory=set)  # a GET's finishing passes (D34)
    settled: set[int] = field(default_factory=set)
    batch_count: int | None = None  # known once the last sub-batch was indexed
    files_ok: int = 0
    files_failed: int = 0
    bytes_ok: int = 0
    holdings_deleted: int = 0
    finished: bool = False

    def __setstate__(self, saved: dict[str, object]) -> None:
        """A transaction saved before a field was added gets that field's default."""
        self.__dict__.update({"from_tape": set(), **saved})

    @property
    def indexed(self) -> set[int]:
        return set(self.reserved) | self.settled

    def complete(self) -> bool:
        """Every sub-batch of a finished index has settled."""
        return self.batch_count is not None and len(self.settled) >= self.batch_count
