"""One SciCat job, start to finish: the job is read from SciCat, marked in progress, each
of its datasets archived (``archive``) or retrieved (``retrieve``), and the job finished
with SciCat's status codes: ``finishedSuccessful``, ``finishedWithDatasetErrors`` when a
dataset was at fault (missing files), ``finishedUnsuccessful`` when nearline or SciCat
failed. Every step goes through the job's journal, so a job handed over again after a
restart does only the steps not yet recorded (decision D172)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from events.scicat import ScicatJobReceived
from nearline.settings import ScicatSettings
from processors.scicat.client import Scicat, ScicatRefused, ScicatUnavailable
from processors.scicat.journal import JOB, OK, SYSTEM_ERROR, USER_ERROR, Done, Journal, Steps
from processors.scicat.ports import CatalogReads, Outcome

log = logging.getLogger("nearline.scicat")

SUCCESS = "finishedSuccessful"
DATASET_ERRORS = "finishedWithDatasetErrors"
UNSUCCESSFUL = "finishedUnsuccessful"


class Failure(Exception):
    """A dataset that cannot be archived or retrieved: ``outcome`` says whose fault
    (user or system), ``code`` is SciCat's status message for it."""

    def __init__(self, outcome: str, code: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.code = code
        self.message = message


@dataclass
class Work:
    """What a job works with: SciCat, the catalog, the log, and the clock."""

    settings: ScicatSettings
    scicat: Scicat
    reads: CatalogReads
    steps: Steps
    sleep: Callable[[float], None] = time.sleep

    def wait(self, done: Callable[[], bool], what: str) -> None:
        """Wait until ``done``; a system failure if it takes past ``wait_timeout_s``."""
        deadline = time.monotonic() + self.settings.wait_timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise Failure(
                    SYSTEM_ERROR,
                    "",
                    f"{what} did not finish within {self.settings.wait_timeout_s:g} s",
                )
            self.sleep(self.settings.poll_s)


def wait_finished(work: Work, transaction_id: str, what: str) -> Outcome:
    """Wait until the account's transaction has ended; how it ended."""
    outcome: dict[str, Outcome] = {}

    def finished() -> bool:
        outcome.update(work.reads.finished([transaction_id], work.settings.account))
        return transaction_id in outcome

    work.wait(finished, what)
    return outcome[transaction_id]


DatasetRunner = Callable[[Work, Journal, dict[str, Any], dict[str, Any]], dict[str, Any]]
"""Archives or retrieves one dataset of a job; its entry in the job's result."""


def run_job(work: Work, received: ScicatJobReceived, runners: dict[str, DatasetRunner]) -> Done:
    """Do the job's steps not yet done; what finishing it found."""
    journal = Journal(received, work.steps)
    finished = journal.get(JOB, "job-finished")
    if finished is not None:
        return finished
    try:
        job = work.scicat.job(received.job_id)
    except ScicatRefused as error:
        # SciCat does not know the job (or refuses us it): there is nothing to finish.
        done = Done(SYSTEM_ERROR, f"SciCat did not give the job: {error}")
        journal.record(JOB, "job-finished", done)
        return done
    journal.once(JOB, "job-started", lambda: _started(work, received.job_id))
    run = runners[received.job_type]
    outcomes = [_dataset(work, journal, job, dataset, run) for dataset in _datasets(job)]
    return journal.once(JOB, "job-finished", lambda: _finish(work, received, outcomes))


def _datasets(job: dict[str, Any]) -> list[Any]:
    """The job's datasets; none from a job whose parameters are not SciCat's shape."""
    params = job.get("jobParams")
    found = params.get("datasetList") if isinstance(params, dict) else None
    return found if isinstance(found, list) else []


def _started(work: Work, job_id: str) -> Done:
    try:
        work.scicat.job_status(job_id, "inProgress", "nearline is working on the job")
    except ScicatRefused as error:  # a 4xx stays one: the job goes on, and says so at its end
        log.error("SciCat job %s: inProgress refused: %s", job_id, error)
        return Done(SYSTEM_ERROR, f"SciCat refused inProgress: {error}")
    return Done(OK, "inProgress")


def _dataset(
    work: Work, journal: Journal, job: dict[str, Any], dataset: dict[str, Any], run: DatasetRunner
) -> Done:
    pid = dataset.get("pid") if isinstance(dataset, dict) else None
    if not isinstance(pid, str) or not pid:
        failure = Failure(
            USER_ERROR, _system_code(job), f"a dataset of the job has no pid: {dataset!r:.200}"
        )
        return Done(
            failure.outcome,
            json.dumps({"datasetId": None, "error": failure.code, "message": failure.message}),
        )
    for step in ("dataset-done", "dataset-failed"):
        ended = journal.get(pid, step)
        if ended is not None:
            return ended
    try:
        result = run(work, journal, job, dataset)
    except ScicatUnavailable as error:
        return _failed(work, journal, job, pid, Failure(SYSTEM_ERROR, "", str(error)))
    except ScicatRefused as error:
        # SciCat refused one of our calls for this dataset: nearline's fault or SciCat's.
        return _failed(work, journal, job, pid, Failure(SYSTEM_ERROR, "", str(error)))
    except Failure as failure:
        return _failed(work, journal, job, pid, failure)
    except Exception as error:
        log.exception("SciCat job %s, dataset %s failed unexpectedly", job.get("id"), pid)
        unexpected = Failure(SYSTEM_ERROR, "", f"nearline failed: {type(error).__name__}: {error}")
        return _failed(work, journal, job, pid, unexpected)
    done = Done(OK, json.dumps(result))
    journal.record(pid, "dataset-done", done)
    return done


def _failed(work: Work, journal: Journal, job: dict[str, Any], pid: str, failure: Failure) -> Done:
    log.warning("SciCat job %s, dataset %s: %s", job.get("id"), pid, failure.message)
    code = failure.code or _system_code(job)
    result = {"datasetId": pid, "error": code, "message": failure.message}
    try:
        if job.get("type") == "retrieve":
            work.scicat.lifecycle(
                pid,
                retrieveStatusMessage=code,
                retrieveReturnMessage={"error": failure.message},
            )
        else:
            work.scicat.lifecycle(
                pid,
                archiveStatusMessage=code,
                archiveReturnMessage={"error": failure.message},
                archivable=True,
                retrievable=False,
            )
    except (ScicatUnavailable, ScicatRefused) as error:
        # The job's own status still says it; the lifecycle is only its echo.
        log.error("SciCat job %s: the lifecycle of %s not set: %s", job.get("id"), pid, error)
    done = Done(failure.outcome, json.dumps(result))
    journal.record(pid, "dataset-failed", done)
    return done


def _system_code(job: dict[str, Any]) -> str:
    return "datasetRetrievalFailed" if job.get("type") == "retrieve" else "scheduleArchiveJobFailed"


def _finish(work: Work, received: ScicatJobReceived, outcomes: list[Done]) -> Done:
    if any(o.outcome == SYSTEM_ERROR for o in outcomes):
        code, message = UNSUCCESSFUL, "nearline or SciCat failed on a dataset; see jobResultObject"
    elif any(o.outcome == USER_ERROR for o in outcomes):
        code, message = DATASET_ERRORS, "a dataset could not be handled; see jobResultObject"
    else:
        code, message = SUCCESS, f"{received.job_type} done by nearline"
    results = [json.loads(o.detail) for o in outcomes]
    try:
        work.scicat.job_status(received.job_id, code, message, {"result": results})
    except ScicatRefused as error:  # asking again would be refused again
        log.error("SciCat job %s: its end (%s) refused: %s", received.job_id, code, error)
        return Done(SYSTEM_ERROR, f"SciCat refused the job's end {code}: {error}")
    outcome = OK if code == SUCCESS else (USER_ERROR if code == DATASET_ERRORS else SYSTEM_ERROR)
    return Done(outcome, code)
