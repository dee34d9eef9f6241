"""The replies of nearline's API as the library returns them: plain JSON dicts, typed for
the reader (the API's OpenAPI at ``/api/v1/openapi.json`` is the reference)."""

from __future__ import annotations

from typing import NotRequired, TypedDict


class Accepted(TypedDict):
    transaction_id: str
    api_action: str
    user: str
    group: str
    job_label: str
    status_url: str


class Holding(TypedDict):
    id: int
    label: str
    user: str
    group: str
    tags: dict[str, str]
    transactions: list[str]
    created_at: str


class Location(TypedDict):
    storage_type: str
    root: str
    path: str
    access_time: str
    url: str | None


class FileEntry(TypedDict):
    holding_id: int
    label: str
    user: str
    group: str
    transaction_id: str
    ingest_time: str
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
    checksums: dict[str, str]
    locations: list[Location]


class FailedFile(TypedDict):
    path: str
    path_b64: str | None
    reason: str


class Progress(TypedDict):
    """Files and bytes done (stored or failed) out of totals."""

    state: str | None  # the step a sub-batch's figures count; None for a transaction
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


class SubRecord(TypedDict):
    sub_id: int
    state: str
    state_value: int
    retries: int
    last_updated: str
    failed_files: list[FailedFile]
    progress: NotRequired[Progress | None]  # None (or absent, from older servers): no figures


class Transaction(TypedDict):
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
    created_at: str
    last_updated: str
    sub_records: list[SubRecord]
    progress: NotRequired[Progress | None]  # the sums of its sub-records' figures


class HistoryEntry(TypedDict):
    """One event of your history (``GET /history``), oldest first."""

    time: str  # ISO 8601, UTC, milliseconds
    occurred_at: int  # epoch milliseconds
    event_type: str
    topic: str
    actor: str
    transaction_id: str
    event_id: str
    cause_id: str | None
    holding_id: int | None
    state: str | None
    progress: NotRequired[Progress | None]


class Cart(TypedDict):
    cart_id: str
    user: str
    group: str
    state: str
    message: str
    file_count: int
    total_size: int
    created_at: str
    updated_at: str
    last_access: str | None


FINAL_STATES = frozenset({"COMPLETE", "FAILED", "COMPLETE_WITH_ERRORS", "COMPLETE_WITH_WARNINGS"})
FAILED_STATES = frozenset({"FAILED", "COMPLETE_WITH_ERRORS"})
CART_STATES = ("waiting", "staging", "bundling", "ready", "error")
