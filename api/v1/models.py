"""Bodies and replies of nearline's own API (``/api/v1``), as its OpenAPI shows them.

Paths: see ``api.paths``. A path in a reply is ``path`` (text) plus ``path_b64`` (the
exact bytes, base64) when the path is not valid UTF-8, else ``path_b64`` is null. A path
in a request is a string, or ``{"path_b64": "..."}`` for bytes that are not UTF-8.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.inputs import DbInt
from api.paths import path_from_b64


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _base64_path(text: str) -> str:
    path_from_b64(text)  # ValueError if not base64: a 422 naming the field
    return text


class EncodedPath(Strict):
    """A path as the base64 of its bytes, for paths that are not valid UTF-8."""

    path_b64: Annotated[str, AfterValidator(_base64_path)]


PathIn = str | EncodedPath


def given_path(path: PathIn) -> str | bytes:
    """The path as the command layer takes it: text, or the exact bytes."""
    return path if isinstance(path, str) else path_from_b64(path.path_b64)


Tags = dict[str, str]


class CommandOptions(Strict):
    group: str | None = Field(None, description="your group for the request; default primary")
    job_label: str | None = Field(None, description="a label for the job; default: id[:8]")
    transaction_id: UUID | None = Field(None, description="default: a new uuid4")


class PutIn(CommandOptions):
    paths: list[PathIn] = Field(min_length=1, description="absolute paths; folders are walked")
    label: str | None = Field(None, description="the holding; created if new")
    holding_id: DbInt | None = None
    tags: Tags = Field(default_factory=dict, description="tags of a new holding")


class Selection(CommandOptions):
    paths: list[PathIn] = Field(default_factory=list, description="absolute paths, or:")
    regex: str | None = Field(None, description="every file whose path text matches (RE2)")
    label: str | None = None
    holding_id: DbInt | None = None
    tags: Tags = Field(default_factory=dict, description="holdings with all these tags")


class GetIn(Selection):
    target: PathIn | None = Field(None, description="folder to write into; default: in place")
    overwrite: bool = False
    groupall: bool = Field(False, description="choose among your group's holdings too")


class StageIn(Selection):
    groupall: bool = Field(False, description="choose among your group's holdings too")


class DeleteIn(Selection):
    """Paths, or a regex; with neither, the whole holdings that label, id and tags pick."""


class MetaIn(CommandOptions):
    new_label: str | None = None
    add_tags: Tags = Field(default_factory=dict)
    remove_tags: list[str] = Field(default_factory=list, description="tag keys")


class Accepted(BaseModel):
    """A request recorded in the log; follow it at ``status_url``."""

    transaction_id: str
    api_action: str
    user: str
    group: str
    job_label: str
    status_url: str


class HoldingOut(BaseModel):
    id: int
    label: str
    user: str
    group: str
    tags: Tags
    transactions: list[str]
    created_at: datetime


class HoldingList(BaseModel):
    holdings: list[HoldingOut]


class MetaChangeOut(BaseModel):
    holding: HoldingOut
    new_label: str
    new_tags: Tags


class MetaAccepted(Accepted):
    changes: list[MetaChangeOut]


class LocationOut(BaseModel):
    storage_type: str
    root: str
    path: str
    access_time: datetime
    url: str | None


class FileOut(BaseModel):
    holding_id: int
    label: str
    user: str
    group: str
    transaction_id: str
    ingest_time: datetime
    path: str
    path_b64: str | None
    path_type: str
    link_path: str | None
    link_path_b64: str | None
    size: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    checksums: Tags
    locations: list[LocationOut]


class FileList(BaseModel):
    files: list[FileOut]
    # Given when more files match than this page holds: pass it as ``after``.
    next: str | None = None


class FailedFileOut(BaseModel):
    path: str
    path_b64: str | None
    reason: str


class ProgressOut(BaseModel):
    """Files and bytes done (stored or failed) out of totals (D132)."""

    state: str | None = Field(
        None, description="the step the figures count (a sub-batch's); null for a transaction"
    )
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


class SubRecordOut(BaseModel):
    sub_id: int
    state: str
    state_value: int
    retries: int
    last_updated: datetime
    failed_files: list[FailedFileOut]
    progress: ProgressOut | None = Field(
        None, description="how far the sub-batch's step got; null when no figures were told"
    )


class TransactionOut(BaseModel):
    id: int
    transaction_id: str
    user: str
    group: str
    api_action: str
    job_label: str
    label: str | None
    holding_id: int | None
    state: str
    state_value: int
    warnings: list[str]
    created_at: datetime
    last_updated: datetime
    sub_records: list[SubRecordOut]
    progress: ProgressOut | None = Field(
        None, description="the sums of its sub-batches' figures; null when none has any"
    )


class TransactionList(BaseModel):
    transactions: list[TransactionOut]


class Usage(BaseModel):
    used_bytes: int
    limit_bytes: int | None = Field(description="null: unlimited")


class UsageOut(BaseModel):
    name: str
    cache: Usage
    tape: Usage


class QuotaOut(BaseModel):
    user: UsageOut
    group: UsageOut | None


class WhoAmI(BaseModel):
    user: str
    groups: list[str]
    primary_group: str | None


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    scope: str


class TokenError(BaseModel):
    error: str
    error_description: str


class ErrorOut(BaseModel):
    detail: str
    field: str | None = None


def when(ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC time."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class CartIn(Strict):
    """A cart: the files a FIND with these filters shows, as one tar to download."""

    cart_id: UUID | None = Field(None, description="default: a new uuid4")
    group: str | None = Field(None, description="with groupall: whose group; default primary")
    paths: list[PathIn] = Field(default_factory=list, description="exact paths, or:")
    regex: str | None = Field(None, description="every file whose path text matches (RE2)")
    label: str | None = None
    holding_id: DbInt | None = None
    tags: Tags = Field(default_factory=dict, description="holdings with all these tags")
    groupall: bool = Field(False, description="choose among your group's holdings too")


class CartOut(BaseModel):
    cart_id: str
    user: str
    group: str
    state: str = Field(description="waiting, staging, bundling, ready or error")
    message: str = Field(description="why the cart is in error; empty otherwise")
    file_count: int
    total_size: int = Field(description="bytes of file content (tar headers aside)")
    created_at: datetime
    updated_at: datetime
    last_access: datetime | None = Field(description="when its last download began")
    download_url: str


class CartList(BaseModel):
    carts: list[CartOut]


class CartDeleted(BaseModel):
    message: str
