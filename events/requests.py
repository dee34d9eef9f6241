"""User requests, as the API records them on ``nearline.requests``.

Each class mirrors the latest ``schemas/requests/<Name>.v<N>.avsc``; the field meanings
are documented there. Paths are bytes (``os.fsencode``): POSIX paths need not be UTF-8.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from events.base import Event, event_type
from events.work import ArchiveMember

PutAction = Literal["put", "putlist"]
GetAction = Literal["get", "getlist"]
DeleteAction = Literal["del", "dellist"]


@event_type
class PutRequested(Event):
    """A user asked to put files from POSIX disk into a holding."""

    schema_name: ClassVar[str] = "nearline.requests.PutRequested"

    label: str | None
    holding_id: int | None
    tags: dict[str, str]
    paths: list[bytes]
    path_list_file: bytes | None
    job_label: str
    api_action: PutAction


@event_type
class GetRequested(Event):
    """A user asked to get files back onto POSIX disk."""

    schema_name: ClassVar[str] = "nearline.requests.GetRequested"

    paths: list[bytes]
    regex: str | None
    label: str | None
    holding_id: int | None
    tags: dict[str, str]
    target: bytes | None
    overwrite: bool
    job_label: str
    api_action: GetAction
    groupall: bool


@event_type
class StageRequested(Event):
    """A user asked to bring files from tape into the S3 cache, without getting them."""

    schema_name: ClassVar[str] = "nearline.requests.StageRequested"

    paths: list[bytes]
    regex: str | None
    label: str | None
    holding_id: int | None
    tags: dict[str, str]
    job_label: str
    groupall: bool


@event_type
class DeleteRequested(Event):
    """A user asked to delete files from their holdings."""

    schema_name: ClassVar[str] = "nearline.requests.DeleteRequested"

    paths: list[bytes]
    regex: str | None
    label: str | None
    holding_id: int | None
    tags: dict[str, str]
    job_label: str
    api_action: DeleteAction


@event_type
class MetaRequested(Event):
    """A user asked to change the label or tags of the holdings a selector matches."""

    schema_name: ClassVar[str] = "nearline.requests.MetaRequested"

    label: str | None
    holding_id: int | None
    tags: dict[str, str]
    new_label: str | None
    add_tags: dict[str, str]
    remove_tags: list[str]
    job_label: str


@event_type
class ArchiveRequested(Event):
    """The archive sweep asks to archive cached files of one holding as one aggregate."""

    schema_name: ClassVar[str] = "nearline.requests.ArchiveRequested"

    holding_id: int
    members: list[ArchiveMember]


@event_type
class UploadRequested(Event):
    """Bytes that arrived over HTTP, already in the S3 cache, to be cataloged as a file."""

    schema_name: ClassVar[str] = "nearline.requests.UploadRequested"

    label: str
    path: bytes
    size: int
    mtime_ns: int
    object_key: str
    adler32: str
    sha256: str
    job_label: str
