"""SciCat's rabbitmq action publishes every job on create and on each update: only a job
nearline has not touched is handed over, as the same event the url action records."""

from __future__ import annotations

import json

import pytest

from events.scicat import ScicatJobReceived
from processors.scicat_rabbitmq.messages import Skipped, job_received

JOB = {"id": "a1b2", "type": "archive", "statusCode": "jobSubmitted", "jobParams": {}}


def body(**changes: object) -> bytes:
    return json.dumps(JOB | changes).encode()


def test_a_new_job_is_handed_over_as_the_url_action_would():
    event = job_received(body(), "arch", "g")
    assert isinstance(event, ScicatJobReceived)
    assert (event.job_id, event.job_type, event.via, event.user) == (
        "a1b2",
        "archive",
        "rabbitmq",
        "arch",
    )
    again = job_received(body(), "arch", "g")
    assert isinstance(again, ScicatJobReceived) and again.event_id == event.event_id


@pytest.mark.parametrize(
    "message",
    [
        body(statusCode="inProgress"),
        body(statusCode="finishedSuccessful"),
        body(statusCode="finishedUnsuccessful"),
        json.dumps(
            {"id": "a1b2", "type": "archive", "jobStatusMessage": "finishedWithDatasetErrors"}
        ).encode(),
    ],
)
def test_the_updates_nearline_makes_are_not_jobs_again(message):
    skipped = job_received(message, "arch", "g")
    assert isinstance(skipped, Skipped) and "nearline's own" in skipped.reason


@pytest.mark.parametrize(
    "message",
    [
        b"\xff not json",
        b"[1, 2]",
        body(type="public"),
        body(id=""),
        body(id=None),
        body(id="x" * 300),
    ],
)
def test_what_is_no_job_for_nearline_is_skipped_with_a_reason(message):
    skipped = job_received(message, "arch", "g")
    assert isinstance(skipped, Skipped) and skipped.reason
