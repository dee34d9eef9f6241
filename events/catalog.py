"""Catalog facts, written only by the decider on ``nearline.catalog`` (key: user).

Each class mirrors the latest ``schemas/catalog/<Name>.v<N>.avsc``, where the fields are
documented. The projection materialises them; the decider folds them into its state.
"""

from __future__ import annotations

from typing import ClassVar, TypedDict

from events.base import Event, event_type


class IndexedFile(TypedDict):
    """One file system entry as the indexer found it."""

    path: bytes
    path_type: str  # FILE, DIRECTORY or LINK
    link_path: bytes | None
    size: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int


class FileFailure(TypedDict):
    """A file that could not be handled, and why."""

    path: bytes
    reason: str
    retryable: bool


class CatalogedFile(IndexedFile):
    """A file now in a holding, with its object and checksums."""

    object_key: str | None
    adler32: str | None
    sha256: str | None


class SelectedFile(CatalogedFile):
    """A cataloged entry a GET restores: its catalog row and holding, and its content."""

    file_id: int
    holding_id: int


class RestoredFile(TypedDict):
    """An entry a GET restored."""

    file_id: int
    path: bytes
    size: int


@event_type
class HoldingCreated(Event):
    """A new holding was created for a user."""

    schema_name: ClassVar[str] = "nearline.catalog.HoldingCreated"

    holding_id: int
    label: str
    tags: dict[str, str]


@event_type
class TransactionAccepted(Event):
    """The decider accepted a request and chose the holding it works on."""

    schema_name: ClassVar[str] = "nearline.catalog.TransactionAccepted"

    api_action: str
    job_label: str
    holding_id: int | None
    label: str | None


@event_type
class TransactionRejected(Event):
    """The decider refused a request before any work began."""

    schema_name: ClassVar[str] = "nearline.catalog.TransactionRejected"

    api_action: str
    job_label: str
    reason: str


@event_type
class FilesReserved(Event):
    """Indexed files were reserved in the holding before transfer."""

    schema_name: ClassVar[str] = "nearline.catalog.FilesReserved"

    holding_id: int
    sub_batch: int
    last: bool
    files: list[IndexedFile]
    refused: list[FileFailure]


@event_type
class FilesCataloged(Event):
    """A sub-batch settled: stored files are cataloged, failed ones released."""

    schema_name: ClassVar[str] = "nearline.catalog.FilesCataloged"

    holding_id: int
    sub_batch: int
    files: list[CatalogedFile]
    failed: list[FileFailure]


@event_type
class TransactionFinished(Event):
    """Every sub-batch of a transaction settled."""

    schema_name: ClassVar[str] = "nearline.catalog.TransactionFinished"

    api_action: str
    state: str
    files_ok: int
    files_failed: int
    bytes_ok: int


@event_type
class FilesSelected(Event):
    """One planned sub-batch of a GET: what it restores and what cannot be fetched."""

    schema_name: ClassVar[str] = "nearline.catalog.FilesSelected"

    sub_batch: int
    last: bool
    target: bytes | None
    overwrite: bool
    files: list[SelectedFile]
    unavailable: list[FileFailure]


@event_type
class FilesRetrieved(Event):
    """A GET's sub-batch settled: entries restored and entries failed."""

    schema_name: ClassVar[str] = "nearline.catalog.FilesRetrieved"

    sub_batch: int
    restored: list[RestoredFile]
    failed: list[FileFailure]
