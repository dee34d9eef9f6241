"""Memory of the local stack while a bench runs: the resident set of every process that
belongs to it (nearline's own, Kafka, the S3 server, PostgreSQL, XRootD), sampled twice
a second from /proc, reported as the peak total and its parts at that moment. The bench's
own process and its ancestors are not the stack and are not counted."""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _kind(args: bytes) -> str:
    if b"java" in args.split(b"\0", 1)[0]:
        return "kafka"
    if b"versitygw" in args:
        return "s3"
    if b"postgres" in args:
        return "postgresql"
    if b"xrootd" in args:
        return "xrootd"
    return "nearline"


def stack_rss(home: Path) -> dict[str, int]:
    """Bytes resident per kind of process of the stack at ``home`` now."""
    marker, env = os.fsencode(home), b"NEARLINE_HOME=" + os.fsencode(home) + b"\0"
    parents: dict[int, int] = {}
    mine: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = _read(f"/proc/{pid}/stat").rpartition(b")")[2].split()
        if len(stat) < 22:
            continue
        parents[pid] = int(stat[1])
        args = _read(f"/proc/{pid}/cmdline")
        if marker in args or env in _read(f"/proc/{pid}/environ") + b"\0":
            mine[pid] = _kind(args)
    # Not the bench itself nor what started it (a shell, make): they share NEARLINE_HOME
    # but are not the stack.
    pid = os.getpid()
    while pid > 1:
        mine.pop(pid, None)
        pid = parents.get(pid, 0)
    for pid in parents:  # PostgreSQL's workers: children of a stack process
        ancestor = parents.get(pid, 0)
        if pid not in mine and ancestor in mine and mine[ancestor] == "postgresql":
            mine[pid] = "postgresql"
    rss: dict[str, int] = defaultdict(int)
    for pid, kind in mine.items():
        fields = _read(f"/proc/{pid}/statm").split()
        if len(fields) > 1:
            rss[kind] += int(fields[1]) * PAGE
    return dict(rss)


class PeakMemory:
    """Samples ``stack_rss`` in a thread between ``with``'s start and end."""

    def __init__(self, home: Path, interval_s: float = 0.5) -> None:
        self.home, self.interval_s = home, interval_s
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            now = stack_rss(self.home)
            if sum(now.values()) > sum(self.peak.values()):
                self.peak = now
            if self._stop.wait(self.interval_s):
                return

    def report(self) -> str:
        parts = ", ".join(f"{k} {v / MIB:.0f}" for k, v in sorted(self.peak.items()))
        return f"peak RSS of the stack {sum(self.peak.values()) / MIB:.0f} MiB ({parts})"
