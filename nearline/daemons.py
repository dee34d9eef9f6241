"""Starting, watching and stopping one background process: a service of the local stack
(``stack``) or one of nearline's own (``admin.processes``, ``admin.supervisor``).

Each process runs in its own session (process group) with its output in a log file and
its pid in a pid file, so that ``stack-down`` can stop it and everything it spawned.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_USER = os.environ.get("NEARLINE_SERVICE_USER", "nearline")


class StackError(RuntimeError):
    """A local-stack service could not be installed, started or reached."""


def running_as_root() -> bool:
    return os.geteuid() == 0


def service_account() -> pwd.struct_passwd:
    """The unprivileged account that runs PostgreSQL and XRootD (both refuse root)."""
    if not running_as_root():
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def give_to_service_account(*paths: Path) -> None:
    """Make folders the service account writes to its own (no-op unless root)."""
    if not running_as_root():
        return
    account = service_account()
    for top in paths:
        for path in [top, *top.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    tail = ""
    if log and log.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise StackError(f"{what} did not become ready within {timeout:.0f}s. Log tail:\n{tail}")


@dataclass
class Daemon:
    """One long-running process: its command, where it logs, and how it stops."""

    name: str
    command: Sequence[str]
    run_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    as_service_account: bool = False
    stop_signal: int = signal.SIGTERM
    cwd: Path | None = None

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def start(self) -> int:
        """Start the process unless it already runs; return its pid."""
        existing = self.pid()
        if existing:
            return existing
        proc = self.spawn()
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def spawn(self, preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen[bytes]:
        """Start the process as ``start`` does, but write no pid file: for a caller that
        keeps the process as its child (admin.supervisor), ``preexec_fn`` run in it."""
        self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        kwargs: dict = {}
        if self.as_service_account and running_as_root():
            account = service_account()
            kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        env = {**os.environ, **self.env}
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                list(self.command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
                # What a service creates is its own only (the stack's folders, D92).
                umask=0o077,
                preexec_fn=preexec_fn,
                **kwargs,
            )
        return proc

    def stop(self, timeout: float = 30, stop_signal: int | None = None) -> None:
        """Stop the process and its whole process group; escalate to SIGKILL."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, stop_signal or self.stop_signal)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and group_alive(pid):
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        while group_alive(pid):
            time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """Kill the process group at once (SIGKILL), as a crash would."""
        self.stop(timeout=0, stop_signal=signal.SIGKILL)


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is left in the process group."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False
