"""A SciCat job's steps, with SciCat, the catalog and the log replaced by records: what is
reported to SciCat for success, missing files and a system failure, and that a job
handed over again does no recorded step twice (D172, D176)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from events.requests import PutRequested
from events.scicat import ScicatJobReceived, ScicatStepRecorded
from nearline.settings import ScicatSettings
from processors.scicat.archive import archive_dataset
from processors.scicat.client import ScicatRefused
from processors.scicat.job import Work, run_job
from processors.scicat.journal import SYSTEM_ERROR
from processors.scicat.ports import Outcome
from processors.scicat.retrieve import retrieve_dataset

RUNNERS = {"archive": archive_dataset, "retrieve": retrieve_dataset}
PID = "20.500.12269/abc"
SOURCE = "/beamline/run7"


@dataclass
class FakeScicat:
    files: list[str] = field(default_factory=lambda: ["a.dat", "sub/b.dat"])
    calls: list[tuple[str, Any]] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)
    job_type: str = "archive"

    def job(self, job_id: str) -> dict[str, Any]:
        return {
            "id": job_id,
            "type": self.job_type,
            "jobParams": {"datasetList": [{"pid": PID, "files": []}]},
        }

    def dataset(self, pid: str) -> dict[str, Any]:
        return {"pid": pid, "sourceFolder": SOURCE}

    def origdatablocks(self, pid: str) -> list[dict[str, Any]]:
        return [{"dataFileList": [{"path": p} for p in self.files]}]

    def datablocks(self, pid: str) -> list[dict[str, Any]]:
        return list(self.blocks)

    def post_datablock(self, pid: str, block: dict[str, Any]) -> None:
        self.calls.append(("datablock", block["archiveId"]))
        self.blocks.append(block)

    def lifecycle(self, pid: str, **fields: Any) -> None:
        self.calls.append(("lifecycle", fields))

    def job_status(self, job_id: str, code: str, message: str, result: Any = None) -> None:
        self.calls.append(("job", code, result))


@dataclass
class Copy:
    storage_type: str
    root: str


@dataclass
class Held:
    path: bytes
    holding_id: int = 7
    size: int = 10
    mode: int = 0o100640
    uid: int = 1000
    gid: int = 1000
    mtime_ns: int = 1_700_000_000_000_000_000
    checksums: dict[str, str] = field(default_factory=lambda: {"SHA256": "ab" * 32})
    locations: list[Copy] = field(default_factory=list)


@dataclass
class FakeReads:
    """The catalog as the decider would leave it: a PUT catalogs its files, an archive
    puts each on tape (two aggregates), unless told otherwise."""

    steps: FakeSteps
    failures: dict[bytes, str] = field(default_factory=dict)
    archives: bool = True
    archived: int = 0

    def holding_files(self, user: str, label: str) -> list[Held]:
        puts = [e for e in self.steps.requests if isinstance(e, PutRequested)]
        paths = sorted({p for e in puts for p in e.paths} - set(self.failures))
        tape = self.archived and self.archives
        return [
            Held(
                p,
                locations=[Copy("TAPE", f"agg-{i % 2}")] if tape else [Copy("OBJECT_STORAGE", "b")],
            )
            for i, p in enumerate(paths)
        ]

    def finished(self, transaction_ids: list[str], user: str) -> dict[str, Outcome]:
        state = "COMPLETE_WITH_ERRORS" if self.failures else "COMPLETE"
        return {t: Outcome(state, dict(self.failures)) for t in transaction_ids}

    def archive(self, holding_id: int) -> int:
        self.archived += 1
        return 2


@dataclass
class FakeSteps:
    recorded: list[ScicatStepRecorded] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)

    def fold(self, job_id: str) -> dict[tuple[str, str], ScicatStepRecorded]:
        return {(s.dataset_pid, s.step): s for s in self.recorded if s.job_id == job_id}

    def record(self, step: ScicatStepRecorded) -> None:
        self.recorded.append(step)

    def request(self, event: Any) -> None:
        self.requests.append(event)


def received(job_type: str = "archive") -> ScicatJobReceived:
    return ScicatJobReceived(
        event_id="e1",
        transaction_id="job-1",
        user="arch",
        group="g",
        cause_id=None,
        occurred_at=1,
        job_id="job-1",
        job_type=job_type,
        via="url",
    )


def work(scicat: FakeScicat, steps: FakeSteps, reads: FakeReads | None = None, **settings) -> Work:
    config = ScicatSettings(account="arch", group="g", poll_s=0.01, **settings)
    return Work(config, scicat, reads or FakeReads(steps), steps, sleep=lambda _s: None)


def test_an_archive_reports_datablocks_per_aggregate_and_finishes_the_job():
    scicat, steps = FakeScicat(), FakeSteps()
    done = run_job(work(scicat, steps), received(), RUNNERS)

    assert done.detail == "finishedSuccessful"
    [put] = steps.requests
    assert put.paths == [b"/beamline/run7/a.dat", b"/beamline/run7/sub/b.dat"] and put.label == PID
    assert sorted(b["archiveId"] for b in scicat.blocks) == ["agg-0", "agg-1"]
    listed = sorted(e["path"] for b in scicat.blocks for e in b["dataFileList"])
    assert listed == ["a.dat", "sub/b.dat"]  # relative to sourceFolder, as SciCat lists them
    assert scicat.blocks[0]["dataFileList"][0]["chk"] == "ab" * 32
    lifecycles = [c[1] for c in scicat.calls if c[0] == "lifecycle"]
    assert lifecycles[0] == {"archiveStatusMessage": "started"}
    assert lifecycles[-1]["archiveStatusMessage"] == "datasetOnArchiveDisk"
    assert lifecycles[-1]["retrievable"] is True
    assert [c[1] for c in scicat.calls if c[0] == "job"] == ["inProgress", "finishedSuccessful"]


@pytest.mark.parametrize("recorded_until", range(12))
def test_a_job_handed_over_again_does_no_recorded_step_twice(recorded_until):
    """The process died after ``recorded_until`` steps were on the log (the step after
    may or may not have happened): the rerun finishes the job, with one PUT request id,
    one datablock per aggregate and each step recorded once."""
    first_scicat, steps = FakeScicat(), FakeSteps()
    run_job(work(first_scicat, steps), received(), RUNNERS)
    complete = list(steps.recorded)
    steps.recorded = complete[:recorded_until]
    scicat = FakeScicat(blocks=list(first_scicat.blocks) if recorded_until > 7 else [])
    reads = FakeReads(steps, archived=1)

    done = run_job(work(scicat, steps, reads), received(), RUNNERS)

    assert done.detail == "finishedSuccessful"
    assert len({r.transaction_id for r in steps.requests}) == 1
    assert sorted(b["archiveId"] for b in scicat.blocks) == ["agg-0", "agg-1"]
    names = [(s.dataset_pid, s.step) for s in steps.recorded]
    assert len(names) == len(set(names))
    # A PUT whose files are all cataloged by then has nothing left to wait for.
    assert set(names) | {(PID, "put-finished")} == {(s.dataset_pid, s.step) for s in complete}
    redone = [c for c in scicat.calls if c[0] == "job" and c[1] == "inProgress"]
    assert len(redone) == (0 if recorded_until >= 1 else 1)
    assert steps.recorded[:recorded_until] == complete[:recorded_until]


def test_missing_files_are_the_datasets_error():
    scicat, steps = FakeScicat(), FakeSteps()
    reads = FakeReads(steps, failures={b"/beamline/run7/sub/b.dat": "No such file or directory"})

    done = run_job(work(scicat, steps, reads), received(), RUNNERS)

    assert done.detail == "finishedWithDatasetErrors"
    lifecycle = [c[1] for c in scicat.calls if c[0] == "lifecycle"][-1]
    assert lifecycle["archiveStatusMessage"] == "missingFilesError"
    assert "sub/b.dat" in lifecycle["archiveReturnMessage"]["error"]
    assert lifecycle["archivable"] is True and lifecycle["retrievable"] is False
    [(_, _, result)] = [c for c in scicat.calls if c[0] == "job" and c[1] != "inProgress"]
    assert result["result"][0]["error"] == "missingFilesError"
    assert scicat.blocks == []


def test_an_archive_that_never_reaches_tape_is_a_system_error_reported():
    scicat, steps = FakeScicat(), FakeSteps()
    reads = FakeReads(steps, archives=False)

    done = run_job(work(scicat, steps, reads, wait_timeout_s=0.05), received(), RUNNERS)

    assert done.detail == "finishedUnsuccessful"
    lifecycle = [c[1] for c in scicat.calls if c[0] == "lifecycle"][-1]
    assert lifecycle["archiveStatusMessage"] == "scheduleArchiveJobFailed"
    assert "did not finish" in lifecycle["archiveReturnMessage"]["error"]


def test_a_retrieve_without_a_place_to_restore_is_reported():
    scicat, steps = FakeScicat(job_type="retrieve"), FakeSteps()

    done = run_job(work(scicat, steps), received("retrieve"), RUNNERS)

    assert done.detail == "finishedUnsuccessful"
    assert steps.requests == []
    lifecycle = [c[1] for c in scicat.calls if c[0] == "lifecycle"][-1]
    assert lifecycle["retrieveStatusMessage"] == "datasetRetrievalFailed"


def test_files_outside_the_source_folder_are_refused_and_nothing_is_put():
    """Whoever may edit a dataset's origdatablocks cannot make nearline read beyond its
    sourceFolder: `..` and absolute paths elsewhere are the dataset's error."""
    scicat = FakeScicat(files=["a.dat", "../../etc/shadow", "/home/other/secret.dat"])
    steps = FakeSteps()

    done = run_job(work(scicat, steps), received(), RUNNERS)

    assert done.detail == "finishedWithDatasetErrors"
    assert steps.requests == []
    lifecycle = [c[1] for c in scicat.calls if c[0] == "lifecycle"][-1]
    assert "outside its sourceFolder" in lifecycle["archiveReturnMessage"]["error"]


class HoldingAnything(FakeReads):
    def holding_files(self, user: str, label: str) -> list[Held]:
        return [Held(b"/beamline/run7/a.dat", locations=[Copy("TAPE", "agg-0")])]


@pytest.mark.parametrize("pid", [".", ".."])
def test_a_pid_that_names_no_folder_of_its_own_is_refused(pid, monkeypatch):
    """Restored into retrieve_root/<pid>: a pid of . or .. would be the root or above."""
    monkeypatch.setattr(sys.modules[__name__], "PID", pid)
    scicat, steps = FakeScicat(job_type="retrieve"), FakeSteps()
    reads = HoldingAnything(steps)

    done = run_job(
        work(scicat, steps, reads, retrieve_root="/srv/retrieved"), received("retrieve"), RUNNERS
    )

    assert done.detail == "finishedWithDatasetErrors"
    assert steps.requests == []


class RefusingEnd(FakeScicat):
    def job_status(self, job_id: str, code: str, message: str, result: Any = None) -> None:
        if code != "inProgress":
            raise ScicatRefused("400: statusMessage must be a string", 400)
        super().job_status(job_id, code, message, result)


class OddJob(FakeScicat):
    def job(self, job_id: str) -> dict[str, Any]:
        return {"id": job_id, "type": "archive", "jobParams": {"datasetList": [{"files": []}]}}


def test_bad_input_from_scicat_ends_the_job_instead_of_stopping_the_adapter(monkeypatch):
    """A refused end, a dataset with no pid or a fault of ours in one dataset: each ends
    the job with what happened, recorded, so that the job is not handed over forever."""
    steps = FakeSteps()
    refused = run_job(work(RefusingEnd(), steps), received(), RUNNERS)
    assert refused.outcome == SYSTEM_ERROR and "refused the job's end" in refused.detail
    assert run_job(work(RefusingEnd(), steps), received(), RUNNERS) == refused  # recorded

    odd = OddJob()
    done = run_job(work(odd, FakeSteps()), received(), RUNNERS)
    assert done.detail == "finishedWithDatasetErrors"
    [(_, _, result)] = [c for c in odd.calls if c[0] == "job" and c[1] != "inProgress"]
    assert "no pid" in result["result"][0]["message"]

    def broken(*_args: Any) -> dict[str, Any]:
        raise KeyError("sourceFolder")

    scicat = FakeScicat()
    done = run_job(work(scicat, FakeSteps()), received(), {"archive": broken})
    assert done.detail == "finishedUnsuccessful"
