"""Workers' results, sent back to the decider on ``nearline.reports`` (key: user).
Fields are documented in ``schemas/reports/``."""

from __future__ import annotations

from typing import ClassVar, TypedDict

from events.base import Event, event_type
from events.catalog import FileFailure, IndexedFile, RestoredFile


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
    """Transfer-get restored a sub-batch of a GET: what was restored and what failed."""

    schema_name: ClassVar[str] = "nearline.reports.FilesRestored"

    sub_batch: int
    restored: list[RestoredFile]
    failed: list[FileFailure]
