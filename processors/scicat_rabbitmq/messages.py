"""What a message of SciCat's ``rabbitmq`` job action means to nearline.

The action publishes ``JSON.stringify(job)`` when a job is created and again on every
update, including the updates nearline itself makes as it works (``inProgress``, the
``finished*`` codes). Only a job nearline has not touched becomes a
``ScicatJobReceived`` (the same event, with the same id, as the ``url`` action's), so the
adapter's own updates never hand it its job again; anything else is skipped, with the
reason (D177)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from events.base import event_id_for
from events.scicat import JOB_TYPES, ScicatJobReceived

NEARLINE_CODES = frozenset(
    {"inProgress", "finishedSuccessful", "finishedWithDatasetErrors", "finishedUnsuccessful"}
)
"""The status codes (v4 ``statusCode``, v3 ``jobStatusMessage``) the adapter sets."""


@dataclass(frozen=True)
class Skipped:
    reason: str


def job_received(body: bytes, account: str, group: str) -> ScicatJobReceived | Skipped:
    """The job a message hands over, or why it hands over none."""
    try:
        job = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Skipped("not JSON")
    if not isinstance(job, dict):
        return Skipped("not a job")
    job_id, job_type = job.get("id") or job.get("_id"), job.get("type")
    if not isinstance(job_id, str) or not job_id or len(job_id) > 256:
        return Skipped("no job id")
    if job_type not in JOB_TYPES:
        return Skipped(f"a {str(job_type)[:40]!r} job, not archive or retrieve")
    status = job.get("statusCode") or job.get("jobStatusMessage")
    if status in NEARLINE_CODES:
        return Skipped(f"an update to {status} (nearline's own)")
    return ScicatJobReceived(
        event_id=event_id_for(job_id, "scicat", "received"),
        transaction_id=job_id,
        user=account,
        group=group,
        cause_id=None,
        occurred_at=int(time.time() * 1000),
        job_id=job_id,
        job_type=job_type,
        via="rabbitmq",
    )
