"""The tape behind the local XRootD server: a disk buffer, a tape folder, and small scripts.

XRootD serves the disk buffer (``oss.localroot``) and sees the tape folder as its remote
storage (``oss.remoteroot`` with ``rss.sh``): a file only on tape stats OFFLINE. The drive
daemon (``drive.sh``) migrates closed files to tape and recalls staged ones after a mount
and seek delay; prepare requests reach ``prepare.sh`` through XRootD's PrepGPI plugin.
docs/tape-endpoint.md explains the design and how it maps to CTA.

Everything lives under ``$NEARLINE_HOME/xrootd/`` and runs as the stack's service account.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from nearline.daemons import Daemon, StackError, running_as_root, service_account
from nearline.settings import Settings

STAGE_DELAY_ENV = "NEARLINE_TAPE_STAGE_DELAY"
DEFAULT_STAGE_DELAY = 2.0
DRIVES = 4  # recalls that run at once
POLL_SECONDS = 0.25  # how often the drive looks for closed files and stage requests
SCRIPTS = ("lib.sh", "rss.sh", "cksum.sh", "prepare.sh", "drive.sh", "migrate.sh", "recall.sh")
INSTANCE = "nearline"  # the XRootD instance name (xrootd -n)


@dataclass(frozen=True)
class TapeLayout:
    """Where the local tape endpoint keeps its files, all in folders under ``root``."""

    root: Path
    buffer: Path  # the disk buffer: what XRootD serves; a file here is online
    media: Path  # the tape: one file per tape copy, under the same path as in the buffer
    catalogue: Path  # the adler32 and size of each tape copy, recorded when it was migrated
    requests: Path  # stage requests (<path>.req: request ids), recall errors (<path>.err)
    tmp: Path  # copies in flight, renamed into the buffer or the tape folder when complete
    bin: Path
    admin: Path

    @classmethod
    def of(cls, settings: Settings) -> TapeLayout:
        # Resolved: the drive compares these paths with the server's open files in /proc.
        root = (settings.home / "xrootd").resolve()
        names = ("buffer", "tape", "catalogue", "requests", "tmp", "bin", "admin")
        return cls(root, *(root / name for name in names))

    @property
    def env_file(self) -> Path:
        return self.root / "tape.env"

    def folders(self) -> list[Path]:
        return [getattr(self, field.name) for field in fields(self)]

    def script(self, name: str) -> Path:
        return self.bin / name


def stage_delay() -> float:
    """The mount+seek delay of a recall, in seconds, from ``NEARLINE_TAPE_STAGE_DELAY``."""
    raw = os.environ.get(STAGE_DELAY_ENV, "")
    if not raw:
        return DEFAULT_STAGE_DELAY
    try:
        delay = float(raw)
    except ValueError:
        raise StackError(f"{STAGE_DELAY_ENV}={raw!r} is not a number of seconds") from None
    if not 0 <= delay <= 3600:
        raise StackError(f"{STAGE_DELAY_ENV}={raw!r} must be between 0 and 3600 seconds")
    return delay


def install(layout: TapeLayout) -> None:
    """Copy the scripts into ``bin/`` (out of the package, readable by the service account)
    and write ``tape.env``, which every script sources."""
    for folder in layout.folders():
        folder.mkdir(parents=True, exist_ok=True)
    package = resources.files(__name__)
    for name in SCRIPTS:
        # Renamed into place: the running server may be executing the previous version.
        target, fresh = layout.script(name), layout.script(f".{name}.new")
        fresh.write_bytes(package.joinpath(name).read_bytes())
        fresh.chmod(0o644 if name == "lib.sh" else 0o755)
        fresh.replace(target)
    values = {
        "TAPE_BUFFER": layout.buffer,
        "TAPE_MEDIA": layout.media,
        "TAPE_CATALOGUE": layout.catalogue,
        "TAPE_REQUESTS": layout.requests,
        "TAPE_TMP": layout.tmp,
        "TAPE_LOCK": layout.root / "tape.lock",
        "TAPE_XROOTD_PIDFILE": layout.admin / INSTANCE / "xrootd.pid",
        "TAPE_STAGE_DELAY": f"{stage_delay():g}",
        "TAPE_DRIVES": DRIVES,
        "TAPE_POLL": f"{POLL_SECONDS:g}",
    }
    layout.env_file.write_text(
        "# Written by the local stack at XRootD start; the tape scripts source it.\n"
        + "".join(f"{key}={shlex.quote(str(value))}\n" for key, value in values.items())
    )


def drive(settings: Settings) -> Daemon:
    """The drive daemon: migrations and recalls (see drive.sh)."""
    layout = TapeLayout.of(settings)
    bash = shutil.which("bash") or "/bin/bash"
    return Daemon(
        name="xrootd-tape",
        command=[bash, str(layout.script("drive.sh"))],
        run_dir=settings.home / "run",
        as_service_account=True,
    )


def evict(layout: TapeLayout, lfns: Iterable[str], batch: int = 200) -> list[str]:
    """Remove the disk-buffer copies of the given files that are on tape; return those
    removed. The same code path as a client's ``prepare(EVICT)``."""
    evicted: list[str] = []
    pending = list(lfns)
    for start in range(0, len(pending), batch):
        command = [
            str(layout.script("prepare.sh")),
            "--",
            "*",
            "evict",
            *pending[start : start + batch],
        ]
        evicted += _run_as_service_account(command).splitlines()
    return evicted


def buffered_files(layout: TapeLayout, lfn: str) -> list[str]:
    """The lfns of the files in the disk buffer at ``lfn`` (a file or a folder)."""
    top = layout.buffer / lfn.lstrip("/")
    if top.is_file():
        return [lfn]
    return sorted(
        "/" + str(path.relative_to(layout.buffer)) for path in top.rglob("*") if path.is_file()
    )


def _run_as_service_account(command: Sequence[str]) -> str:
    extra: dict = {}
    if running_as_root():
        account = service_account()
        extra = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    done = subprocess.run(
        list(command), capture_output=True, text=True, check=False, timeout=120, **extra
    )
    if done.returncode:
        raise StackError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout
