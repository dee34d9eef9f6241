"""Helpers of the tape endpoint tests: waiting, restarting, corrupting."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from nearline.settings import Settings
from stack import xrootd
from stores.tape.endpoint import TapeEndpoint

STAGE_DELAY = 1.0  # seconds: short, but long enough to see a recall pending


def eventually(check: Callable[[], bool], timeout: float = 20, what: str = "condition") -> float:
    """Wait until ``check()`` holds; return the seconds it took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.05)
    return time.monotonic() - start


def restart_xrootd(settings: Settings) -> None:
    xrootd.stop(settings)
    xrootd.start(settings)


def archived(endpoint: TapeEndpoint, path: str) -> None:
    """Wait until the endpoint has migrated ``path`` to tape."""
    eventually(lambda: endpoint.stat(path).on_tape, what=f"{path} on tape")


def flip_a_byte(path: Path, offset: int = 100) -> None:
    """Corrupt a tape copy the way a bad tape would (tape copies are read-only)."""
    mode = path.stat().st_mode
    path.chmod(0o644)
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))
    path.chmod(mode)
