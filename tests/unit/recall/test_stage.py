"""Waiting for a stage: online, expired after the deadline, failed (retryable) or corrupt;
queried at growing intervals, from a short first one up to a longest one."""

from __future__ import annotations

import itertools

import pytest

from processors.archive_get.recall import StageExpired, StageFailed, retryable, stage
from stores.tape.endpoint import StageState
from stores.tape.errors import TapeFailure
from stores.tape.members import TAPE_CORRUPT


class FakeTape:
    def __init__(self, states: list[StageState]) -> None:
        self.states = states
        self.staged: list[list[str]] = []

    def stage(self, paths):
        self.staged.append(list(paths))
        return "req-1"

    def stage_status(self, request_id, paths):
        assert request_id == "req-1"
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {paths[0]: state}


def state(online=False, error=None, exists=True) -> StageState:
    return StageState(exists, online, True, not online, True, error)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_stage_waits_until_the_aggregate_is_online():
    tape, clock = FakeTape([state(), state(), state(online=True)]), Clock()
    stage(tape, "h1/a.tar", 60, 1.0, 1.0, clock.sleep, clock)  # type: ignore[arg-type]
    assert tape.staged == [["h1/a.tar"]] and clock.now == 2.0


def test_a_stage_is_queried_soon_then_less_and_less_often_up_to_the_longest_wait():
    waits: list[float] = []
    tape, clock = FakeTape([state()] * 40 + [state(online=True)]), Clock()

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.sleep(seconds)

    stage(tape, "h1/a.tar", 3600, 0.05, 2.0, sleep, clock)  # type: ignore[arg-type]
    assert waits[0] == 0.05 and len(waits) == 40
    growing = waits[:8]
    assert all(later > earlier for earlier, later in itertools.pairwise(growing))
    assert max(waits) == 2.0 and waits[-1] == 2.0


def test_a_stage_not_online_by_the_deadline_expires_and_says_after_how_long():
    tape, clock = FakeTape([state()]), Clock()
    with pytest.raises(StageExpired, match=r"^stage expired after 5 s$") as error:
        stage(tape, "h1/a.tar", 5, 1.0, 1.0, clock.sleep, clock)  # type: ignore[arg-type]
    assert not retryable(error.value)


def test_a_failed_recall_is_retryable_but_a_corrupt_tape_copy_is_not():
    with pytest.raises(StageFailed) as failed:
        stage(FakeTape([state(error="drive error")]), "a", 5, 1.0, 1.0, lambda s: None)  # type: ignore[arg-type]
    assert retryable(failed.value)
    with pytest.raises(TapeFailure, match=TAPE_CORRUPT) as corrupt:
        stage(FakeTape([state(error="checksum mismatch")]), "a", 5, 1.0, 1.0, lambda s: None)  # type: ignore[arg-type]
    assert not retryable(corrupt.value)
