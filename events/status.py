"""Progress of transactions on ``nearline.status`` (key: transaction), as NLDS states.
Fields are documented in ``schemas/status/``."""

from __future__ import annotations

from typing import ClassVar, TypedDict

from events.base import Event, event_type
from events.catalog import FileFailure


class SubBatchProgress(TypedDict):
    """How far a sub-batch's step got: files and bytes done (stored or failed) out of
    the step's totals."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


@event_type
class TransactionStateChanged(Event):
    """A transaction (sub_id None) or one of its sub-batches reached a new state; with
    ``progress``, the figures of the sub-batch's step in that state."""

    schema_name: ClassVar[str] = "nearline.status.TransactionStateChanged"

    api_action: str
    job_label: str
    label: str | None
    holding_id: int | None
    sub_id: int | None
    state: str
    failures: list[FileFailure]
    warnings: list[str]
    retries: int
    progress: SubBatchProgress | None = None
