"""A replay split among processes: progress summed, one part's failure stops the rest,
and a batch that lost a deadlock to another part is applied again."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from psycopg.errors import DeadlockDetected
from sqlalchemy.exc import DBAPIError, OperationalError

from projections import parallel
from projections.parallel import PartFailed, Progress
from projections.replay import DEADLOCK_ATTEMPTS, _apply_retrying


def counting(events: int, pid_file: str | None = None):
    def work(report):
        if pid_file:
            with open(pid_file, "w") as out:
                out.write(str(os.getpid()))
        for done in range(1, events + 1):
            report(Progress(done, 0.0))
        return Progress(events, 0.1)

    return work


def test_the_parts_run_in_processes_of_their_own_and_their_progress_adds_up(tmp_path):
    files = [str(tmp_path / f"part{i}") for i in range(3)]
    progress = parallel.run([counting(10 * (i + 1), files[i]) for i in range(3)], lambda _p: None)
    assert progress.events == 60
    pids = {Path(f).read_text() for f in files}
    assert len(pids) == 3 and str(os.getpid()) not in pids


def test_progress_is_reported_about_once_a_second_when_a_part_ends_before_another():
    def slow(_report):
        time.sleep(2.5)
        return Progress(1, 2.5)

    reports: list[Progress] = []
    started = time.monotonic()
    progress = parallel.run([counting(5), slow, counting(7)], reports.append)
    seconds = time.monotonic() - started
    assert progress.events == 13
    # One report a second, and one as each part ends: never a burst while a part exits.
    assert len(reports) <= seconds / parallel.REPORT_EVERY_S + 4, len(reports)


def test_a_failing_part_stops_the_others_and_says_why():
    def failing(_report):
        raise ValueError("a fact the projection cannot take")

    def endless(_report):
        time.sleep(600)
        return Progress()

    started = time.monotonic()
    with pytest.raises(PartFailed, match="ValueError: a fact the projection cannot take"):
        parallel.run([endless, failing], lambda _p: None)
    assert time.monotonic() - started < 30


class FlakyRunner:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def apply_decoded(self, records, ends) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error


def lost_deadlock() -> DBAPIError:
    return OperationalError("INSERT ...", {}, DeadlockDetected("deadlock detected"))


def test_a_batch_that_lost_a_deadlock_is_applied_again():
    runner = FlakyRunner(2, lost_deadlock())
    _apply_retrying(runner, ([], {}))  # type: ignore[arg-type]
    assert runner.calls == 3


def test_other_database_errors_and_endless_deadlocks_are_raised():
    other = OperationalError("INSERT ...", {}, Exception("connection lost"))
    runner = FlakyRunner(1, other)
    with pytest.raises(OperationalError):
        _apply_retrying(runner, ([], {}))  # type: ignore[arg-type]
    assert runner.calls == 1
    runner = FlakyRunner(DEADLOCK_ATTEMPTS, lost_deadlock())
    with pytest.raises(OperationalError):
        _apply_retrying(runner, ([], {}))  # type: ignore[arg-type]
    assert runner.calls == DEADLOCK_ATTEMPTS
