"""Workers' results, sent back to the decider on ``nearline.reports`` (key: user).
Fields are documented in ``schemas/reports/``."""

from __future__ import annotations

from dataclasses import field
from typing import ClassVar, TypedDict

from events.base import Event, event_type
from events.catalog import (
    ArchivedMember,
    EvictedFile,
    FileFailure,
    IndexedFile,
    MemberFailure,
    RecalledFile,
    RestoredFile,
)


class StoredObject(TypedDict):
    """A file uploaded to the object store, with the checksums computed while reading."""

    path: bytes
    object_key: str
    size: int
    adler32: str
    sha256: str


@event_type
class FilesIndexed(Event):
    """The indexer found one sub-batch of a PUT's entries."""

    schema_name: ClassVar[str] = "nearline.reports.FilesIndexed"

    holding_id: int
    sub_batch: int
    last: bool
    files: list[IndexedFile]
    rejected: list[FileFailure]


@event_type
class FilesTransferred(Event):
    """Transfer-put uploaded a sub-batch: what was stored and what failed."""

    schema_name: ClassVar[str] = "nearline.reports.FilesTransferred"

    holding_id: int
    sub_batch: int
    stored: list[StoredObject]
    failed: list[FileFailure]


@event_type
class FilesRestored(Event):
    """Transfer-get restored a sub-batch of a GET: what was restored and what failed, and
    which of its directories it made (rather than found)."""

    schema_name: ClassVar[str] = "nearline.reports.FilesRestored"

    sub_batch: int
    restored: list[RestoredFile]
    failed: list[FileFailure]
    created: list[bytes] = field(default_factory=list)


@event_type
class ObjectsDeleted(Event):
    """The object deleter removed one deletion batch's objects (absent ones included)."""

    schema_name: ClassVar[str] = "nearline.reports.ObjectsDeleted"

    holding_id: int
    sub_batch: int
    object_keys: list[str]


class EvictionFailure(TypedDict):
    """A cache copy that was not removed, and why."""

    file_id: int
    path: bytes
    reason: str


@event_type
class AggregateArchived(Event):
    """Archive-put wrote (or found) an aggregate on tape and verified its adler32."""

    schema_name: ClassVar[str] = "nearline.reports.AggregateArchived"

    holding_id: int
    aggregate: str
    size: int
    adler32: str
    members: list[ArchivedMember]
    failed: list[MemberFailure]


@event_type
class CacheCopiesRemoved(Event):
    """The evict worker removed cache copies (an object already gone counts as removed)."""

    schema_name: ClassVar[str] = "nearline.reports.CacheCopiesRemoved"

    holding_id: int
    files: list[EvictedFile]
    failed: list[EvictionFailure]


@event_type
class AggregateOnline(Event):
    """The recall worker has the aggregate online: a GET's members may be restored
    straight from it while they go back into the cache (D231)."""

    schema_name: ClassVar[str] = "nearline.reports.AggregateOnline"

    sub_batch: int
    holding_id: int
    aggregate: str
    staged: bool


@event_type
class AggregateRecalled(Event):
    """The recall worker staged an aggregate (or found its members cached) and put the
    members back into the S3 cache."""

    schema_name: ClassVar[str] = "nearline.reports.AggregateRecalled"

    sub_batch: int
    holding_id: int
    aggregate: str
    recalled: list[RecalledFile]
    failed: list[MemberFailure]
    staged: bool
