"""Work items for the workers, keyed by transaction so that one user's large request
spreads across worker processes. Fields are documented in ``schemas/work/``."""

from __future__ import annotations

from typing import ClassVar, TypedDict

from events.base import Event, event_type
from events.catalog import SelectedFile


class TransferItem(TypedDict):
    """A file to upload, with what the indexer saw of it."""

    path: bytes
    size: int
    mtime_ns: int
    object_key: str


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
    """Transfer-get is asked to restore one sub-batch of a GET, as the requesting user."""

    schema_name: ClassVar[str] = "nearline.work.TransferGetRequested"

    sub_batch: int
    target: bytes | None
    overwrite: bool
    files: list[SelectedFile]
