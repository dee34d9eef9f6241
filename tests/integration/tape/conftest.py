"""The tape endpoint of the local stack, seen through nearline's tape client."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest
from XRootD import client

from nearline.settings import Settings
from stack import tape
from stores.tape.endpoint import TapeEndpoint, TapeFailure
from tests.integration.tape.helpers import STAGE_DELAY, restart_xrootd


@pytest.fixture(scope="session")
def layout(settings: Settings) -> tape.TapeLayout:
    return tape.TapeLayout.of(settings)


@pytest.fixture
def endpoint(settings: Settings) -> TapeEndpoint:
    return TapeEndpoint(settings.tape.url, settings.tape.root, timeout=10, connect_timeout=2)


@pytest.fixture
def folder(endpoint: TapeEndpoint, layout: tape.TapeLayout) -> Iterator[str]:
    """A fresh folder for one test's files; its files (online or not) are removed after."""
    name = f"test-tape-{uuid.uuid4().hex[:12]}"
    yield name
    names = set()
    for top in (layout.buffer, layout.media):
        base = top / endpoint.root.strip("/")
        names |= {str(p.relative_to(base)) for p in (base / name).rglob("*") if p.is_file()}
    for path in sorted(names):
        with contextlib.suppress(TapeFailure):
            endpoint.delete(path)
    # The endpoint prunes its tape folders; the namespace's folder is the client's to remove.
    client.FileSystem(endpoint.url).rmdir(f"{endpoint.root}/{name}", timeout=10)


@pytest.fixture(scope="session")
def stage_delay(settings: Settings) -> Iterator[float]:
    """Restart XRootD with a short mount+seek delay; restore the default afterwards."""
    previous = os.environ.get(tape.STAGE_DELAY_ENV)
    os.environ[tape.STAGE_DELAY_ENV] = str(STAGE_DELAY)
    restart_xrootd(settings)
    yield STAGE_DELAY
    if previous is None:
        os.environ.pop(tape.STAGE_DELAY_ENV)
    else:
        os.environ[tape.STAGE_DELAY_ENV] = previous
    restart_xrootd(settings)
