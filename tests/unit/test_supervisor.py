"""``nearline-admin serve``'s logic with fake children and a fake clock (restart, backoff,
graceful stop), then its wiring with real short-lived processes: children die with the
supervisor, a child's process group goes with it, and ``serve`` restarts a killed child
and stops every one on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from admin import processes, supervisor
from admin.serve import table
from admin.supervisor import RESTARTING, RUNNING, STOPPED, Backoff, Supervisor
from nearline.daemons import pid_alive
from nearline.settings import ScicatSettings, ServeSettings, Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeChild:
    def __init__(self, pid: int, stubborn: bool = False) -> None:
        self.pid, self.stubborn = pid, stubborn
        self.code: int | None = None
        self.signals: list[str] = []

    def poll(self) -> int | None:
        return self.code

    def terminate(self) -> None:
        self.signals.append("TERM")
        if not self.stubborn:
            self.code = 0

    def kill(self) -> None:
        self.signals.append("KILL")
        self.code = -signal.SIGKILL


class Spawner:
    """Starts fake children; ``stubborn`` names ignore SIGTERM, ``broken`` ones fail."""

    def __init__(self, stubborn: tuple[str, ...] = (), broken: int = 0) -> None:
        self.started: list[tuple[str, FakeChild]] = []
        self.stubborn, self.broken = stubborn, broken

    def __call__(self, name: str) -> FakeChild:
        if self.broken:
            self.broken -= 1
            raise OSError("no such file")
        child = FakeChild(100 + len(self.started), stubborn=name in self.stubborn)
        self.started.append((name, child))
        return child

    def last(self, name: str) -> FakeChild:
        return [c for n, c in self.started if n == name][-1]


def supervised(names=("a", "b"), spawner=None, backoff=None, stop_timeout_s=30.0):
    clock = Clock()
    spawner = spawner or Spawner()
    notes: list[tuple[str, str]] = []
    sup = Supervisor(
        list(names),
        spawner,
        backoff or Backoff(initial_s=1, max_s=8, stable_after_s=60),
        stop_timeout_s,
        clock=clock,
        sleep=clock.sleep,
        wall=lambda: clock.now,
        on_change=lambda slot, note: notes.append((slot.name, note)),
    )
    sup.start()
    return sup, spawner, clock, notes


def crash(sup: Supervisor, spawner: Spawner, name: str, clock: Clock) -> float:
    """Kill ``name``'s child and return the delay the supervisor chose."""
    spawner.last(name).code = -signal.SIGKILL
    sup.check()
    slot = sup.slots[name]
    assert slot.state == RESTARTING
    return slot.due - clock.now


def test_every_process_starts_once_and_is_reported_running():
    sup, spawner, _, notes = supervised()
    assert [n for n, _ in spawner.started] == ["a", "b"]
    report = sup.report()
    assert {r["state"] for r in report.values()} == {RUNNING}
    assert [r["pid"] for r in report.values()] == [100, 101]
    assert all(r["restarts"] == 0 and r["last_exit"] is None for r in report.values())
    assert notes == [("a", "running, pid 100"), ("b", "running, pid 101")]


def test_a_child_that_exits_is_started_again_after_the_delay():
    sup, spawner, clock, notes = supervised()
    assert crash(sup, spawner, "a", clock) == 1
    assert sup.report()["a"] | {"since": 0} == {
        "state": RESTARTING,
        "pid": None,
        "restarts": 0,
        "last_exit": -9,
        "since": 0,
    }
    assert notes[-1] == ("a", "ended by SIGKILL; restarting in 1.0s")
    clock.now += 0.9
    sup.check()
    assert sup.slots["a"].state == RESTARTING and len(spawner.started) == 2
    clock.now += 0.1
    sup.check()
    assert sup.report()["a"]["state"] == RUNNING
    assert sup.report()["a"]["pid"] == 102 and sup.report()["a"]["restarts"] == 1
    assert sup.report()["b"]["restarts"] == 0  # the others are left alone


def test_the_delay_doubles_while_it_keeps_failing_up_to_the_cap():
    sup, spawner, clock, _ = supervised()
    delays = []
    for _ in range(6):
        delays.append(crash(sup, spawner, "a", clock))
        clock.now += delays[-1]
        sup.check()
    assert delays == [1, 2, 4, 8, 8, 8]
    assert sup.slots["a"].restarts == 6


def test_a_run_longer_than_the_stable_period_resets_the_delay():
    sup, spawner, clock, _ = supervised()
    for _ in range(3):
        clock.now += crash(sup, spawner, "a", clock)
        sup.check()
    clock.now += 59
    assert crash(sup, spawner, "a", clock) == 8  # not stable yet
    clock.now += 8
    sup.check()
    clock.now += 60
    assert crash(sup, spawner, "a", clock) == 1


def test_the_delay_never_overflows():
    assert Backoff(initial_s=1, max_s=60).delay(100_000) == 60


def test_a_child_that_cannot_be_started_is_tried_again_with_backoff():
    sup, _, clock, notes = supervised(names=["a"], spawner=Spawner(broken=2))
    assert sup.slots["a"].state == RESTARTING and sup.slots["a"].last_exit is None
    assert notes[-1] == ("a", "could not start: no such file; restarting in 1.0s")
    clock.now += 1
    sup.check()
    clock.now += 2
    sup.check()
    assert sup.slots["a"].state == RUNNING and sup.slots["a"].restarts == 2


def test_stop_sends_sigterm_to_every_child_and_waits_for_each():
    sup, spawner, clock, _ = supervised()
    sup.stop()
    assert [c.signals for _, c in spawner.started] == [["TERM"], ["TERM"]]
    assert {r["state"] for r in sup.report().values()} == {STOPPED}
    assert sup.report()["a"]["last_exit"] == 0 and sup.report()["a"]["pid"] is None
    assert clock.now == 1000.0  # no waiting when all stop at once


def test_a_child_that_ignores_sigterm_is_killed_when_the_bound_passes():
    sup, spawner, clock, notes = supervised(spawner=Spawner(stubborn=("b",)), stop_timeout_s=30)
    sup.stop()
    assert spawner.last("a").signals == ["TERM"]
    assert spawner.last("b").signals == ["TERM", "KILL"]
    assert 1030 <= clock.now < 1031
    assert ("b", "still running: SIGKILL") in notes
    assert sup.report()["b"]["state"] == STOPPED and sup.report()["b"]["last_exit"] == -9


def test_a_second_signal_kills_at_once():
    sup, spawner, clock, _ = supervised(spawner=Spawner(stubborn=("a", "b")))
    sup.stop(hurry=lambda: True)
    assert [c.signals for _, c in spawner.started] == [["TERM", "KILL"], ["TERM", "KILL"]]
    assert clock.now < 1001


def test_a_child_that_does_not_die_even_by_sigkill_is_given_up_on():
    sup, spawner, clock, notes = supervised(names=["a"])
    child = spawner.last("a")
    child.terminate = child.kill = lambda: None
    sup.stop(kill_wait_s=10)
    assert sup.slots["a"].state == STOPPED
    assert notes[-1] == ("a", "pid 100 did not end after SIGKILL")
    assert 1040 <= clock.now < 1041


def test_a_process_waiting_to_restart_is_not_started_again_by_stop():
    sup, spawner, clock, _ = supervised()
    crash(sup, spawner, "a", clock)
    sup.stop()
    clock.now += 100
    sup.check()
    assert len(spawner.started) == 2
    assert sup.report()["a"]["state"] == STOPPED and sup.report()["a"]["last_exit"] == -9


# -- what it runs ----------------------------------------------------------------------


SCICAT = ("scicat", "scicat-rabbitmq")


def test_the_plan_is_the_process_list_with_instances_per_kind():
    default = Settings(scicat=ScicatSettings(enabled=True, rabbitmq_url=SecretStr("amqp://q")))
    assert supervisor.plan(default) == list(processes.PROCESSES)
    more = default.model_copy(
        update={"serve": ServeSettings(instances={"transfer-put": 3, "evict": 0, "carts": 2})}
    )
    names = supervisor.plan(more)
    assert [n for n in names if n.startswith("transfer-put")] == [
        "transfer-put",
        "transfer-put-2",
        "transfer-put-3",
    ]
    assert "evict" not in names and "carts-2" in names
    assert processes.command("transfer-put-3") == processes.command("transfer-put")
    assert processes.principal("carts-2") == "carts"


@pytest.mark.parametrize(
    ("scicat", "left_out"),
    [
        (ScicatSettings(), {"scicat", "scicat-rabbitmq"}),
        (ScicatSettings(enabled=True), {"scicat-rabbitmq"}),
        # Jobs from RabbitMQ are done by the scicat adapter: both run.
        (ScicatSettings(rabbitmq_url=SecretStr("amqp://q")), set()),
    ],
)
def test_the_processes_of_a_feature_that_is_off_are_not_in_the_plan(scicat, left_out):
    settings = Settings(scicat=scicat)
    assert supervisor.plan(settings) == [n for n in processes.PROCESSES if n not in left_out]
    assert set(supervisor.left_off(settings)) == left_out


def test_serve_instances_runs_a_process_of_a_feature_that_is_off():
    settings = Settings(scicat=ScicatSettings(), serve=ServeSettings(instances={"scicat": 1}))
    assert "scicat" in supervisor.plan(settings)
    assert "scicat-rabbitmq" not in supervisor.plan(settings)
    assert supervisor.left_off(settings) == {"scicat-rabbitmq": "scicat.rabbitmq_url is empty"}


def test_start_by_default_leaves_out_what_is_off_and_says_why(monkeypatch, tmp_path):
    started: list[str] = []

    class Recorded:
        def __init__(self, _settings: Settings, name: str, _env: object = None) -> None:
            self.name = name

        def start(self) -> int:
            started.append(self.name)
            return 1

    monkeypatch.setattr(processes, "daemon", Recorded)
    settings = Settings(home=tmp_path, scicat=ScicatSettings())
    said: list[str] = []
    processes.start(settings, log=said.append)
    assert started == [n for n in processes.PROCESSES if n not in SCICAT]
    assert any(line.split()[:3] == ["scicat", "not", "started:"] for line in said)
    started.clear()
    processes.start(settings, list(SCICAT), log=said.append)  # named: they run
    assert started == list(SCICAT)


def test_the_status_says_what_was_not_started_and_why():
    state = {"pid": 1, "home": "/h", "started": 0, "alive": True, "processes": {}}
    state["off"] = {"scicat": "SciCat is off (scicat.enabled and scicat.rabbitmq_url unset)"}
    assert table(state).splitlines()[-1] == (
        "scicat: not started, SciCat is off (scicat.enabled and scicat.rabbitmq_url unset)"
    )


@pytest.mark.parametrize(
    ("instances", "message"),
    [({"transfer": 1}, "names no kind of process: transfer"), ({"api": 2}, "one api per host")],
)
def test_a_wrong_instance_setting_is_refused_with_the_reason(instances, message):
    settings = Settings().model_copy(update={"serve": ServeSettings(instances=instances)})
    with pytest.raises(supervisor.SupervisorError, match=message):
        supervisor.plan(settings)


# -- real processes ----------------------------------------------------------------------


def gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_child_gets_sigkill_when_its_parent_is_killed():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, time; from admin.supervisor import dies_with_parent;"
            " child = subprocess.Popen(['sleep', '60'], preexec_fn=dies_with_parent());"
            " print(child.pid, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert pid_alive(child)
    parent.kill()
    parent.wait()
    assert gone(child)


def test_a_child_that_exits_takes_what_it_left_in_its_group():
    popen = subprocess.Popen(
        ["sh", "-c", "sleep 60 & echo $!; exit 3"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert popen.stdout is not None
    orphan = int(popen.stdout.readline())
    child = supervisor.Process(popen)
    deadline = time.monotonic() + 5
    while (code := child.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert code == 3
    assert gone(orphan)


def test_the_status_of_a_supervisor_that_died_shows_its_processes_stopped(tmp_path):
    settings = Settings(home=tmp_path)
    (tmp_path / "run").mkdir()
    slots = {"catalog": {"state": RUNNING, "pid": 4321, "restarts": 2, "last_exit": -9, "since": 1}}
    about = {"pid": 1234, "home": str(tmp_path), "started": 0}
    supervisor.write_state(supervisor.state_file(settings), about, slots)
    state = supervisor.read_state(settings)
    assert state is not None and not state["alive"]
    assert state["processes"]["catalog"]["state"] == STOPPED
    lock = supervisor.hold_lock(settings)
    try:
        state = supervisor.read_state(settings)
        assert state is not None and state["alive"]
        assert state["processes"]["catalog"] == slots["catalog"]
        with pytest.raises(supervisor.SupervisorError, match="a supervisor runs already"):
            supervisor.hold_lock(settings)
        lines = table(state).splitlines()
        assert lines[0].startswith("supervisor pid 1234, running since")
        assert lines[2].split()[:5] == ["catalog", "running", "4321", "2", "ended"]
    finally:
        lock.close()


def test_serve_restarts_a_killed_child_and_stops_every_one_on_sigterm(tmp_path, monkeypatch):
    """The real ``serve`` loop, with two sleepers for processes, in this test's process:
    another thread kills one child, waits for its replacement and sends SIGTERM."""
    sleeper = ["-c", "import signal, time; time.sleep(120)"]
    monkeypatch.setattr(processes, "PROCESSES", {"one": sleeper, "two": sleeper})
    monkeypatch.setattr(processes, "KINDS", {"one": sleeper, "two": sleeper})
    settings = Settings(
        home=tmp_path, serve=ServeSettings(backoff_initial_s=0.1, stop_timeout_s=10)
    )
    state_path = supervisor.state_file(settings)
    seen: dict[str, object] = {}

    def state() -> dict:
        try:
            return json.loads(state_path.read_text())["processes"]
        except (OSError, ValueError, KeyError):
            return {}

    def wait_for(check, what: str) -> None:
        deadline = time.monotonic() + 20
        while not check():
            assert time.monotonic() < deadline, what
            time.sleep(0.05)

    def operator() -> None:
        try:
            wait_for(lambda: len(state()) == 2, "both started")
            first = state()["one"]["pid"]
            seen["first"] = first
            os.kill(first, signal.SIGKILL)
            wait_for(lambda: state()["one"]["pid"] not in (None, first), "a new one")
            seen["running"] = {n: p["pid"] for n, p in state().items()}
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    lines: list[str] = []
    helper = threading.Thread(target=operator)
    helper.start()
    supervisor.serve(settings, log=lines.append)
    helper.join()
    final = state()
    assert final["one"]["restarts"] == 1 and final["one"]["state"] == STOPPED
    assert final["two"]["restarts"] == 0 and final["two"]["state"] == STOPPED
    running = seen["running"]
    assert isinstance(running, dict) and running["one"] != seen["first"]
    assert all(gone(pid) for pid in running.values())
    assert any("one" in line and "ended by SIGKILL" in line for line in lines)
    assert lines[-1] == "nearline-admin serve: every process stopped"
    assert Path(tmp_path / "run" / "nearline-one.log").exists()  # the processes' own logs
