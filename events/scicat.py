"""SciCat's archive jobs on ``nearline.scicat`` (key: SciCat job id): the job as SciCat
handed it over, and each step the adapter (``processors.scicat``) did for it. Fields are
documented in ``schemas/scicat/``."""

from __future__ import annotations

from typing import ClassVar

from events.base import Event, event_type

JOB_TYPES = ("archive", "retrieve")
OUTCOMES = ("ok", "user-error", "system-error")


@event_type
class ScicatJobReceived(Event):
    """SciCat handed over an archive or retrieve job."""

    schema_name: ClassVar[str] = "nearline.scicat.ScicatJobReceived"

    job_id: str
    job_type: str
    via: str


@event_type
class ScicatStepRecorded(Event):
    """The adapter did one step of a job, or found that it failed."""

    schema_name: ClassVar[str] = "nearline.scicat.ScicatStepRecorded"

    job_id: str
    dataset_pid: str
    step: str
    outcome: str
    detail: str
    nearline_transaction_id: str | None = None
