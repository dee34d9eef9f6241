"""The runner of plain loops: start-up before the first turn, readiness, the pause a turn
asks for, a graceful stop, and an error that ends the loop."""

from __future__ import annotations

import threading

import pytest

from nearline.observe.server import Health
from processors import runner

from .fakes import settings


@pytest.fixture
def started(monkeypatch) -> list[str]:
    steps: list[str] = []
    monkeypatch.setattr(runner.logs, "setup", lambda _settings, name: steps.append(f"logs {name}"))
    monkeypatch.setattr(runner.bus, "prepare", lambda _settings: steps.append("prepare"))
    monkeypatch.setattr(runner.server, "serve", lambda _settings, _health: steps.append("serve"))
    return steps


def test_a_loop_starts_up_turns_and_stops_when_told(started):
    stop, health = threading.Event(), Health()
    turns: list[bool] = []

    def run_once() -> float | None:
        turns.append(health.ready)
        if len(turns) == 3:
            stop.set()
        return None if len(turns) == 1 else 0.0

    runner.run_loop(
        "sweeper", settings(), run_once, 0.01, ready="on schedule", stop=stop, health=health
    )
    assert started == ["logs sweeper", "prepare", "serve"]
    assert turns == [True, True, True]
    assert (health.ready, health.reason) == (False, "stopping")


def test_an_error_in_a_turn_ends_the_loop_not_ready(started):
    health = Health()

    def run_once() -> float | None:
        raise RuntimeError("forwarded retries were not delivered")

    with pytest.raises(RuntimeError):
        runner.run_loop("retry", settings(), run_once, stop=threading.Event(), health=health)
    assert not health.ready


def test_sigterm_sets_the_stop_event():
    import os
    import signal

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop = runner.stop_on_signals()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
