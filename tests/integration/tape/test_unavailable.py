"""A stopped endpoint fails fast and retryably; it works again once restarted."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from stack import xrootd
from stores.tape.endpoint import TapeUnavailable
from tests.integration.tape.helpers import archived, eventually


def tape_processes(layout) -> list[str]:
    """Command lines of running processes started from the tape scripts."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(arg.startswith(str(layout.bin)) for arg in argv):
            found.append(" ".join(argv))
    return found


def test_a_stopped_server_is_unavailable_then_recovers(
    settings, endpoint, folder, layout, stage_delay
):
    path = f"{folder}/through-a-restart.tar"
    endpoint.write(path, [os.urandom(10_000)])
    archived(endpoint, path)
    xrootd.purge_buffer(settings, f"{endpoint.root}/{path}")
    request = endpoint.stage([path])  # its recall is in flight when the server stops

    xrootd.stop(settings)
    try:
        assert tape_processes(layout) == []
        for attempt in (
            lambda: endpoint.stat(path),
            lambda: endpoint.write(path, [b"x"]),
            lambda: endpoint.stage([path]),
        ):
            started = time.monotonic()
            with pytest.raises(TapeUnavailable) as raised:
                attempt()
            assert time.monotonic() - started < 5
            assert raised.value.retryable
    finally:
        xrootd.start(settings)

    eventually(lambda: endpoint.stat(path).size == 10_000, timeout=10, what="reconnection")
    # A recall interrupted by the restart is started again.
    eventually(lambda: endpoint.stage_status(request, [path])[path].online, what="recall")
