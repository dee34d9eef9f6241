"""The sweeper's turn with a fake clock and fake passes: each pass one interval after the
first turn and every interval after that, a failing pass logged and tried again at its
next turn, and the wait until the next pass is due."""

from __future__ import annotations

import logging

from nearline.settings import ArchiveSettings, EvictionSettings, S3Settings
from processors.sweeper.schedule import Sweeper

from .fakes import settings


def test_each_pass_runs_when_due_and_a_failure_waits_for_its_next_turn(caplog):
    now = [100.0]
    config = settings(
        archive=ArchiveSettings(sweep_interval_s=10),
        eviction=EvictionSettings(interval_s=15),
        s3=S3Settings(stale_upload_sweep_s=600),
    )
    sweeper = Sweeper(config, reads=None, producer=None, clock=lambda: now[0])
    ran: list[str] = []

    def evict() -> None:
        ran.append("evict")
        raise ConnectionError("the catalog is away")

    sweeper.passes = {
        "archive": lambda: ran.append("archive"),
        "evict": evict,
        "uploads": lambda: ran.append("uploads"),
    }
    assert sweeper.run_once() == 10.0 and ran == []  # the first passes one interval on
    now[0] = 110.0
    with caplog.at_level(logging.ERROR, "nearline.sweeper"):
        assert sweeper.run_once() == 5.0
        now[0] = 115.0
        assert sweeper.run_once() == 5.0
    assert ran == ["archive", "evict"]
    assert "eviction pass failed" in caplog.text
    now[0] = 130.0
    sweeper.run_once()
    assert ran == ["archive", "evict", "archive", "evict"]
