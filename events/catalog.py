"""Catalog facts, written only by the decider on ``nearline.catalog`` (key: user).

Each class mirrors the latest ``schemas/catalog/<Name>.v<N>.avsc``, where the fields are
documented. The projection materialises them; the decider folds them into its state.
"""

from __future__ import annotations

from dataclasses import field
from typing import ClassVar, NotRequired, TypedDict

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
    # Hard links (D133): the path naming the file's link group, or None. Decoded records
    # always have it (the schemas' default); code that builds entries may leave it out.
    link_group: NotRequired[bytes | None]


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


def hard_link_of(entry: IndexedFile) -> bytes | None:
    """In a GET's events (``FilesSelected``, ``TransferGetRequested``): the path of the
    entry whose restored file ``entry`` is made a hard link of, or None when ``entry`` is
    restored from its own copy (D133)."""
    group = entry.get("link_group")
    if group is None or group == entry["path"] or entry["path_type"] != "FILE":
        return None
    return group


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
    """A GET's sub-batch settled: entries restored and entries failed, and the directories
    it made; a finishing pass (D34) settled: the directories finished, and those skipped."""

    schema_name: ClassVar[str] = "nearline.catalog.FilesRetrieved"

    sub_batch: int
    restored: list[RestoredFile]
    failed: list[FileFailure]
    created: list[bytes] = field(default_factory=list)
    finishing: bool = False


class DeletedFile(TypedDict):
    """A file taken out of a holding, with what identifies its row and object."""

    path: bytes
    transaction_id: str
    size: int
    object_key: str | None


@event_type
class FilesDeleted(Event):
    """Files were taken out of a holding by a DELETE; their objects are to be removed."""

    schema_name: ClassVar[str] = "nearline.catalog.FilesDeleted"

    holding_id: int
    sub_batch: int
    last: bool
    files: list[DeletedFile]
    refused: list[FileFailure]


@event_type
class ObjectsRemoved(Event):
    """A deletion batch's cache objects are gone: the batch has settled."""

    schema_name: ClassVar[str] = "nearline.catalog.ObjectsRemoved"

    holding_id: int
    sub_batch: int
    object_keys: list[str]


@event_type
class HoldingDeleted(Event):
    """A whole holding was deleted; its label is free again."""

    schema_name: ClassVar[str] = "nearline.catalog.HoldingDeleted"

    holding_id: int
    label: str


@event_type
class HoldingRelabeled(Event):
    """A holding's label was changed."""

    schema_name: ClassVar[str] = "nearline.catalog.HoldingRelabeled"

    holding_id: int
    old_label: str
    label: str


@event_type
class HoldingTagsChanged(Event):
    """A holding's tags were changed; ``tags`` is the whole new set."""

    schema_name: ClassVar[str] = "nearline.catalog.HoldingTagsChanged"

    holding_id: int
    tags: dict[str, str]


class ArchivedMember(TypedDict):
    """A file with a good copy in a tape aggregate: its data is at ``offset`` of the tar."""

    file_id: int
    path: bytes
    offset: int
    size: int
    sha256: str
    adler32: str


class MemberFailure(TypedDict):
    """A file that was not archived, and why."""

    file_id: int
    path: bytes
    reason: str
    retryable: bool


class EvictedFile(TypedDict):
    """A file whose cache copy is (to be) removed; its tape copy stays."""

    file_id: int
    path: bytes
    object_key: str


@event_type
class ArchiveScheduled(Event):
    """Files were sent to be archived as one aggregate: in flight until FilesArchived."""

    schema_name: ClassVar[str] = "nearline.catalog.ArchiveScheduled"

    holding_id: int
    aggregate: str
    file_ids: list[int]


@event_type
class FilesArchived(Event):
    """Files have a verified tape copy in an aggregate; failed members were not archived."""

    schema_name: ClassVar[str] = "nearline.catalog.FilesArchived"

    holding_id: int
    aggregate: str
    size: int
    adler32: str
    members: list[ArchivedMember]
    failed: list[MemberFailure]


@event_type
class FilesEvicted(Event):
    """Files lost their cache copy: they are on tape only."""

    schema_name: ClassVar[str] = "nearline.catalog.FilesEvicted"

    holding_id: int
    files: list[EvictedFile]


class RecallMember(TypedDict):
    """A member of an aggregate to put back into the S3 cache, read by its offset."""

    file_id: int
    path: bytes
    object_key: str
    offset: int
    size: int
    sha256: str
    adler32: str


class RecalledFile(TypedDict):
    """A file whose verified copy is back in the S3 cache."""

    file_id: int
    path: bytes
    object_key: str
    size: int


@event_type
class RecallScheduled(Event):
    """Members of one aggregate were sent to be recalled for a sub-batch of a GET or
    STAGE: the recall is in flight until FilesRecalled."""

    schema_name: ClassVar[str] = "nearline.catalog.RecallScheduled"

    sub_batch: int
    holding_id: int
    aggregate: str
    members: list[RecallMember]


@event_type
class FilesRecalled(Event):
    """Members of an aggregate are back in the S3 cache, verified; failed ones are not."""

    schema_name: ClassVar[str] = "nearline.catalog.FilesRecalled"

    sub_batch: int
    holding_id: int
    aggregate: str
    recalled: list[RecalledFile]
    failed: list[MemberFailure]
    staged: bool
