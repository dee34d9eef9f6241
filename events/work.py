"""Work items for the workers, keyed by transaction so that one user's large request
spreads across worker processes. Fields are documented in ``schemas/work/``."""

from __future__ import annotations

from typing import ClassVar, TypedDict

from events.base import Event, event_type
from events.catalog import EvictedFile, RecallMember, SelectedFile


class TransferItem(TypedDict):
    """A file to upload, with what the indexer saw of it."""

    path: bytes
    size: int
    mtime_ns: int
    object_key: str


class ArchiveMember(TypedDict):
    """A cached file to archive, with what was recorded when it was PUT."""

    file_id: int
    path: bytes
    object_key: str
    size: int
    mode: int
    mtime_ns: int
    sha256: str
    adler32: str


@event_type
class IndexRequested(Event):
    """The indexer is asked to walk a PUT's paths as the requesting user."""

    schema_name: ClassVar[str] = "nearline.work.IndexRequested"

    holding_id: int
    paths: list[bytes]
    path_list_file: bytes | None
    max_files: int
    max_bytes: int


@event_type
class TransferPutRequested(Event):
    """Transfer-put is asked to upload one sub-batch to the object store."""

    schema_name: ClassVar[str] = "nearline.work.TransferPutRequested"

    holding_id: int
    sub_batch: int
    files: list[TransferItem]


@event_type
class TransferGetRequested(Event):
    """Transfer-get is asked to restore one sub-batch of a GET, as the requesting user; or,
    in a finishing pass, to give directories the GET made their mode and mtime again."""

    schema_name: ClassVar[str] = "nearline.work.TransferGetRequested"

    sub_batch: int
    target: bytes | None
    overwrite: bool
    files: list[SelectedFile]
    finishing: bool = False


@event_type
class TransferGetFromTapeRequested(Event):
    """Transfer-get is asked to restore one sub-batch of a GET straight from its staged
    aggregate (D231): each file's ``object_key`` is its member's slice of the aggregate."""

    schema_name: ClassVar[str] = "nearline.work.TransferGetFromTapeRequested"

    sub_batch: int
    target: bytes | None
    overwrite: bool
    aggregate: str
    files: list[SelectedFile]


@event_type
class DeleteObjectsRequested(Event):
    """The object deleter is asked to remove one deletion batch's cache objects."""

    schema_name: ClassVar[str] = "nearline.work.DeleteObjectsRequested"

    holding_id: int
    sub_batch: int
    object_keys: list[str]


@event_type
class ArchivePutRequested(Event):
    """Archive-put is asked to write one aggregate of a holding's cached files to tape."""

    schema_name: ClassVar[str] = "nearline.work.ArchivePutRequested"

    holding_id: int
    aggregate: str
    members: list[ArchiveMember]


@event_type
class EvictRequested(Event):
    """The evict worker is asked to remove cache copies of files archived on tape."""

    schema_name: ClassVar[str] = "nearline.work.EvictRequested"

    holding_id: int
    files: list[EvictedFile]


RECALL_CACHE = "cache"  # stage if needed, put back into the cache, report (with progress)
RECALL_ONLINE = "online"  # a GET's: stage, report online, put nothing back
RECALL_FILL = "fill"  # put back a GET's members once restored from tape (no progress)


@event_type
class RecallRequested(Event):
    """The recall worker is asked to stage one aggregate and put members back in the cache."""

    schema_name: ClassVar[str] = "nearline.work.RecallRequested"

    sub_batch: int
    holding_id: int
    aggregate: str
    members: list[RecallMember]
    step: str = "cache"  # RECALL_CACHE, RECALL_ONLINE or RECALL_FILL (D231)
