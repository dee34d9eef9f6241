"""``nearline-admin serve``: nearline's processes as children of one foreground process.

An operator without Kubernetes or systemd units per process needs one command that keeps
the API and every processor running: it starts each (as ``admin.processes`` defines
them), restarts one that exits after a delay that doubles while it keeps failing (capped,
and reset once it has run a while), stops them all on SIGTERM or SIGINT (SIGTERM to each,
then SIGKILL to whatever is left when the bound passes), and keeps each one's state in
``$NEARLINE_HOME/run/serve.json`` for ``nearline-admin serve --status``.

No child outlives the supervisor, even when it is SIGKILLed itself (D121): each child asks
the kernel for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``, set between fork and
exec, then checked against a parent that died before it was set), and runs in its own
process group, which is SIGKILLed once its leader has exited, so that nothing it spawned
stays behind either. A user's file-system worker (stores.posix) also ends by itself when
its service's socket closes. Children are started from the main thread only: the kernel
sends the signal when the *thread* that forked the child ends.

The logic (``Supervisor``) takes a function that starts a child, so tests drive it with
fake children and a fake clock; ``serve`` wires it to real processes and signals. One
module of about 480 lines: the child's death signal, the restart schedule and the state
file are one protocol, and read best together.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from admin import processes
from nearline.settings import Settings

RUNNING, RESTARTING, STOPPED = "running", "restarting", "stopped"
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)  # loaded before any fork, used after it


class SupervisorError(RuntimeError):
    """The supervisor cannot start: the message says why and what to do."""


class Child(Protocol):
    """A started process, as the supervisor sees it."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None:
        """Its exit code once it has exited (negative: the signal that ended it)."""
        ...

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM)."""
        ...

    def kill(self) -> None:
        """Stop it and everything in its process group at once (SIGKILL)."""
        ...


Spawn = Callable[[str], Child]


@dataclass(frozen=True)
class Backoff:
    """How long a process that exited waits before it is started again."""

    initial_s: float = 1.0
    max_s: float = 60.0
    stable_after_s: float = 60.0
    factor: float = 2.0

    def delay(self, failures: int) -> float:
        """The delay after ``failures`` exits in a row without a stable run."""
        return float(min(self.max_s, self.initial_s * self.factor ** min(failures, 64)))


@dataclass
class Slot:
    """One supervised process: its state and history."""

    name: str
    state: str = STOPPED
    pid: int | None = None
    restarts: int = 0
    last_exit: int | None = None
    since: float = 0.0  # wall-clock time of the last change
    failures: int = 0  # exits in a row, each after a run shorter than stable_after_s
    started: float = 0.0  # monotonic
    due: float = 0.0  # monotonic time of the next start, while restarting
    child: Child | None = field(default=None, repr=False)

    def report(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "pid": self.pid,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "since": self.since,
        }


class Supervisor:
    """Starts, restarts and stops a set of named processes; ``check`` does one round."""

    def __init__(
        self,
        names: list[str],
        spawn: Spawn,
        backoff: Backoff | None = None,
        stop_timeout_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
        on_change: Callable[[Slot, str], None] = lambda slot, note: None,
    ) -> None:
        self.slots = {name: Slot(name) for name in names}
        self.spawn = spawn
        self.backoff = backoff or Backoff()
        self.stop_timeout_s = stop_timeout_s
        self.clock, self.sleep, self.wall = clock, sleep, wall
        self.on_change = on_change

    def start(self) -> None:
        for slot in self.slots.values():
            self._launch(slot)

    def check(self) -> None:
        """Note every child that exited and start every one whose delay has passed."""
        for slot in self.slots.values():
            if slot.state == RUNNING and slot.child is not None:
                code = slot.child.poll()
                if code is not None:
                    self._exited(slot, code)
            elif slot.state == RESTARTING and self.clock() >= slot.due:
                slot.restarts += 1
                self._launch(slot)

    def stop(
        self,
        hurry: Callable[[], bool] = lambda: False,
        poll_s: float = 0.1,
        kill_wait_s: float = 10.0,
    ) -> None:
        """SIGTERM to every child, SIGKILL to those still running after the bound (or at
        once when ``hurry`` says so: a second signal); returns when none is left."""
        for slot in self.slots.values():
            if slot.state == RUNNING and slot.child is not None:
                slot.child.terminate()
            elif slot.state == RESTARTING:
                self._set(slot, STOPPED, "stopped (was waiting to restart)")
        deadline = self.clock() + self.stop_timeout_s
        killed_at: float | None = None
        while True:
            self._reap_stopped()
            left = self.running()
            if not left:
                return
            now = self.clock()
            if killed_at is None and (now >= deadline or hurry()):
                for slot in left:
                    assert slot.child is not None
                    slot.child.kill()
                    self.on_change(slot, "still running: SIGKILL")
                killed_at = now
            elif killed_at is not None and now >= killed_at + kill_wait_s:
                for slot in left:  # stuck in the kernel (a hung file system): say so
                    self._set(slot, STOPPED, f"pid {slot.pid} did not end after SIGKILL")
                return
            self.sleep(poll_s)

    def running(self) -> list[Slot]:
        return [s for s in self.slots.values() if s.state == RUNNING]

    def report(self) -> dict[str, dict[str, Any]]:
        return {name: slot.report() for name, slot in self.slots.items()}

    # -- inside -------------------------------------------------------------------------

    def _launch(self, slot: Slot) -> None:
        slot.started = self.clock()
        try:
            child = self.spawn(slot.name)
        except (OSError, subprocess.SubprocessError) as error:
            self._exited(slot, None, f"could not start: {error}")
            return
        slot.child, slot.pid = child, child.pid
        again = f" (restart {slot.restarts})" if slot.restarts else ""
        self._set(slot, RUNNING, f"running, pid {child.pid}{again}")

    def _exited(self, slot: Slot, code: int | None, why: str | None = None) -> None:
        if self.clock() - slot.started >= self.backoff.stable_after_s:
            slot.failures = 0
        delay = self.backoff.delay(slot.failures)
        slot.failures += 1
        slot.due = self.clock() + delay
        slot.child, slot.pid, slot.last_exit = None, None, code
        self._set(slot, RESTARTING, f"{why or describe(code)}; restarting in {delay:.1f}s")

    def _reap_stopped(self) -> None:
        for slot in self.running():
            assert slot.child is not None
            code = slot.child.poll()
            if code is not None:
                slot.child, slot.pid, slot.last_exit = None, None, code
                self._set(slot, STOPPED, f"stopped ({describe(code)})")

    def _set(self, slot: Slot, state: str, note: str) -> None:
        slot.state, slot.since = state, self.wall()
        self.on_change(slot, note)


def describe(code: int | None) -> str:
    """An exit code as an operator reads it."""
    if code is None:
        return "not started"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"ended by {signal.Signals(-code).name}"
        return f"ended by signal {-code}"
    return f"exited with code {code}"


# -- real children -------------------------------------------------------------------


def dies_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``sig`` when the process starting it dies, and
    exits at once if that happened already (between fork and this call)."""
    parent = os.getpid()

    def preexec() -> None:
        if _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0 or os.getppid() != parent:
            os._exit(127)

    return preexec


class Process:
    """A child started with ``subprocess``, the leader of its own process group."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        if self.popen.returncode is not None:
            return self.popen.returncode
        try:
            exited = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self.popen.poll()
        if exited is None:
            return None
        # Not reaped yet, so its pid (the group's id) cannot be reused: clear the group.
        self.kill()
        return self.popen.wait()

    def terminate(self) -> None:
        self.popen.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)


def spawner(settings: Settings, env: dict[str, str] | None = None) -> Spawn:
    """Starts a process exactly as ``admin.processes`` does (command, environment, log
    file, umask, own session), without a pid file, tied to this process's life."""

    def spawn(name: str) -> Child:
        daemon = processes.daemon(settings, name, env)
        return Process(daemon.spawn(preexec_fn=dies_with_parent(signal.SIGKILL)))

    return spawn


def plan(settings: Settings) -> list[str]:
    """The processes to run: ``processes.PROCESSES``, with ``serve.instances`` per kind;
    none of a kind whose feature is off (``processes.off``) unless ``serve.instances``
    names it."""
    counts: dict[str, int] = dict.fromkeys(processes.KINDS, 0)
    for name in processes.PROCESSES:
        counts[processes.kind(name)] += 1
    for kind in left_off(settings):
        counts[kind] = 0
    unknown = sorted(set(settings.serve.instances) - set(counts))
    if unknown:
        raise SupervisorError(
            f"serve.instances names no kind of process: {', '.join(unknown)} "
            f"(the kinds are {', '.join(counts)})"
        )
    counts.update(settings.serve.instances)
    if any(n < 0 for n in counts.values()):
        raise SupervisorError("serve.instances: a count is 0 or more")
    if counts.get("api", 0) > 1:
        raise SupervisorError(
            "serve.instances: one api per host (they would share its port); "
            "run more on other hosts or with their own NEARLINE_PORTS__API"
        )
    return [processes.instance(k, n) for k, count in counts.items() for n in range(1, count + 1)]


def left_off(settings: Settings) -> dict[str, str]:
    """The kinds ``plan`` leaves out because their feature is off, with why (a kind
    ``serve.instances`` names runs as many times as it says)."""
    return {
        kind: why
        for kind, why in processes.off(settings).items()
        if kind in processes.KINDS and kind not in settings.serve.instances
    }


# -- the state file and the lock -------------------------------------------------------


def state_file(settings: Settings) -> Path:
    return settings.home / "run" / "serve.json"


def lock_file(settings: Settings) -> Path:
    return settings.home / "run" / "serve.lock"


def write_state(path: Path, supervisor: dict[str, Any], slots: dict[str, Any]) -> None:
    """Replace the state file at once, so that a reader never sees half of it."""
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps({**supervisor, "processes": slots}, indent=2) + "\n")
    partial.replace(path)


def hold_lock(settings: Settings) -> IO[str]:
    """The lock of this home's supervisor, held as long as the returned file is open (the
    kernel drops it when the process dies, however it dies)."""
    path = lock_file(settings)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SupervisorError(
            f"a supervisor runs already for {settings.home}: see `nearline-admin serve --status`"
        ) from None
    return handle


def supervisor_alive(settings: Settings) -> bool:
    """Whether a supervisor holds this home's lock."""
    path = lock_file(settings)
    if not path.exists():
        return False
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def read_state(settings: Settings) -> dict[str, Any] | None:
    """The last state the supervisor wrote, with ``alive`` (whether it still runs); a
    supervisor that died shows its processes as stopped (they died with it)."""
    try:
        state: dict[str, Any] = json.loads(state_file(settings).read_text())
    except (OSError, ValueError):
        return None
    state["alive"] = supervisor_alive(settings)
    if not state["alive"]:
        for entry in state["processes"].values():
            entry.update(state=STOPPED, pid=None)
    return state


# -- serve -----------------------------------------------------------------------------


def serve(
    settings: Settings, log: Callable[[str], None] = print, env: dict[str, str] | None = None
) -> None:
    """Run the processes in the foreground until SIGTERM, SIGINT or SIGHUP, then stop them."""
    names = plan(settings)
    if not names:
        raise SupervisorError("serve.instances leaves no process to run")
    others = {n: pid for n, pid in processes.running(settings).items() if pid}
    if others:
        listed = ", ".join(f"{n} (pid {pid})" for n, pid in others.items())
        raise SupervisorError(
            f"processes started by admin.processes run in {settings.home} already: {listed}; "
            "stop them first (`python -c 'import admin.processes as p, nearline.settings "
            "as s; p.stop(s.Settings())'`)"
        )
    lock = hold_lock(settings)
    signals: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda number, _frame: signals.append(number))
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # SIGHUP: its terminal closed
    }
    path = state_file(settings)
    off = left_off(settings)
    about = {"pid": os.getpid(), "home": str(settings.home), "started": time.time(), "off": off}

    def changed(slot: Slot, note: str) -> None:
        log(f"{time.strftime('%H:%M:%S')} {slot.name:15} {note}")
        write_state(path, about | {"updated": time.time()}, supervisor.report())

    supervisor = Supervisor(
        names,
        spawner(settings, env),
        Backoff(
            settings.serve.backoff_initial_s,
            settings.serve.backoff_max_s,
            settings.serve.stable_after_s,
        ),
        settings.serve.stop_timeout_s,
        on_change=changed,
    )
    try:
        log(f"nearline-admin serve: {len(names)} processes for {settings.home} (pid {os.getpid()})")
        for kind, why in off.items():
            log(f"{time.strftime('%H:%M:%S')} {kind:15} not started: {why}")
        supervisor.start()
        while not signals:
            supervisor.check()
            time.sleep(0.2)
        log(f"{signal.Signals(signals[0]).name}: stopping (a second signal kills at once)")
        supervisor.stop(hurry=lambda: len(signals) > 1)
    finally:
        if supervisor.running():  # an error in the loop: leave no child behind
            supervisor.stop(hurry=lambda: True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        lock.close()
    log("nearline-admin serve: every process stopped")


# -- in the background: the demo and the tests -----------------------------------------


@contextlib.contextmanager
def supervised(
    settings: Settings, env: dict[str, str] | None = None, timeout: float = 60
) -> Iterator[subprocess.Popen[bytes]]:
    """``nearline-admin serve`` as a child of this process, its output in
    ``run/serve.log``: yielded once every process has started, stopped afterwards (and
    stopped by the kernel should this process die first)."""
    run = settings.home / "run"
    run.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (run / "serve.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "admin", "serve"],
            env=os.environ | {"NEARLINE_HOME": str(settings.home)} | (env or {}),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches this process, which stops it in order
            preexec_fn=dies_with_parent(signal.SIGTERM),
        )
    try:
        wait_started(settings, proc, timeout)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(settings.serve.stop_timeout_s + 30)
        except subprocess.TimeoutExpired:
            proc.kill()  # its children get SIGKILL from the kernel
            proc.wait()


def wait_started(settings: Settings, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until the supervisor ``proc`` reports every process running."""
    deadline = time.monotonic() + timeout
    while True:
        state = read_state(settings)
        if (
            state
            and state["pid"] == proc.pid
            and all(p["state"] == RUNNING for p in state["processes"].values())
        ):
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = (settings.home / "run" / "serve.log").read_text(errors="replace")[-2000:]
            raise SupervisorError(f"nearline-admin serve did not start its processes:\n{tail}")
        time.sleep(0.2)
