"""What ``nearline watch`` shows of a running transaction: its working state, files and
bytes done out of totals, the rate and an estimate of the time left, e.g.
``TRANSFER_PUTTING  120/301 files  1.2/3.0 GB  45 MB/s  ETA 0:40``; sub-batches done out
of all when the server tells no figures (a META, a DELETE, an older server)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from client.library.models import FINAL_STATES, Progress, Transaction

STATE_ORDER = {
    "ROUTING": 0,
    "SPLITTING": 1,
    "INDEXING": 2,
    "CATALOG_PUTTING": 3,
    "TRANSFER_PUTTING": 4,
    "CATALOG_GETTING": 10,
    "ARCHIVE_GETTING": 11,
    "TRANSFER_GETTING": 12,
    "CATALOG_DELETING": 30,
}
"""NLDS state values of the states a sub-batch works in (docs/api.md, "States")."""

WINDOW_S = 20.0
"""The rate is that of the bytes done over about this long."""


def working_state(tx: Transaction) -> str:
    """The state to show: the transaction's once it ended; while it runs, the earliest of
    its sub-batches still working (as the nlds client shows it), else its own."""
    if tx["state"] in FINAL_STATES:
        return tx["state"]
    working = [s for s in tx["sub_records"] if s["state"] not in FINAL_STATES]
    if not working:
        return tx["state"]
    return min(
        (s["state"] for s in working),
        key=lambda state: STATE_ORDER.get(state, len(STATE_ORDER) * 100),
    )


class Rate:
    """Bytes a second, from the bytes done seen over the last ``window_s`` seconds. The
    figure going down (a recalled sub-batch starting its transfer from nothing) starts
    the window again."""

    def __init__(
        self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window_s = window_s
        self.clock = clock
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, done: int) -> float | None:
        """Record ``done`` bytes now; the rate, or None before there is one."""
        now = self.clock()
        if self.samples and done < self.samples[-1][1]:
            self.samples.clear()
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window_s:
            self.samples.popleft()
        first_at, first = self.samples[0]
        span = now - first_at
        return (done - first) / span if span >= 0.5 else None


def si_bytes(count: float, unit: str | None = None) -> tuple[str, str]:
    """``count`` in decimal units: the number as text and the unit (``unit`` if given)."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    if unit is None:
        unit = "B"
        for name in units:
            unit = name
            if count < 1000 ** (units.index(name) + 1) or name == units[-1]:
                break
    value = count / 1000 ** units.index(unit)
    return (f"{value:.0f}" if unit == "B" else f"{value:.1f}"), unit


def clock_text(seconds: float) -> str:
    """``0:40``, ``12:05``, ``3:02:10``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def figures_text(progress: Progress, rate: float | None) -> str:
    """``120/301 files  1.2/3.0 GB  45 MB/s  ETA 0:40`` (rate and estimate when known)."""
    total, unit = si_bytes(progress["bytes_total"])
    done, _ = si_bytes(progress["bytes_done"], unit)
    parts = [
        f"{progress['files_done']}/{progress['files_total']} files",
        f"{done}/{total} {unit}",
    ]
    if rate is not None:
        speed, speed_unit = si_bytes(rate)
        parts.append(f"{speed} {speed_unit}/s")
        left = progress["bytes_total"] - progress["bytes_done"]
        if rate > 0 and left > 0:
            parts.append(f"ETA {clock_text(left / rate)}")
    return "  ".join(parts)


def sub_batches_text(tx: Transaction) -> str:
    """``1/2 sub-batches``; nothing before the first."""
    subs = tx["sub_records"]
    done = sum(1 for s in subs if s["state"] in FINAL_STATES)
    return f"{done}/{len(subs)} sub-batches" if subs else ""


def progress_of(tx: Transaction) -> Progress | None:
    """The transaction's figures, if the server tells any."""
    progress = tx.get("progress")
    if progress is None or progress["files_total"] <= 0:
        return None
    return progress


def describe(tx: Transaction, rate: float | None) -> str:
    """The whole line after the transaction id: working state and figures."""
    progress = progress_of(tx)
    figures = figures_text(progress, rate) if progress else sub_batches_text(tx)
    return f"{working_state(tx)}  {figures}" if figures else working_state(tx)
