"""Figures as the ``nearline`` command shows them: files and bytes done out of totals,
with the rate and an estimate of the time left when known, e.g. ``120/301 files
1.2/3.0 GB  45 MB/s  ETA 0:40``."""

from __future__ import annotations

from client.library.models import Progress


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
