"""Requesters and places to build real trees for the indexing tests."""

from __future__ import annotations

import getpass
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from processors.indexing.access import Requester

# Ids no account on a test host is expected to have.
OWNER_UID = 12345
STRANGER_UID = 23456
SHARED_GID = 34567

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown test files")


@pytest.fixture
def me() -> Requester:
    """The user running the tests: the owner of everything they create."""
    return Requester(
        name=getpass.getuser(),
        uid=os.getuid(),
        gids=frozenset([os.getgid(), *os.getgroups()]),
    )


@pytest.fixture
def stranger() -> Requester:
    """Someone who owns nothing in the tests and is in no group they use."""
    return Requester(name="stranger", uid=STRANGER_UID, gids=frozenset([STRANGER_UID]))


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory every user can reach: pytest's tmp_path sits under a 0700 directory."""
    base = Path(tempfile.gettempdir())
    for ancestor in [base, *base.parents]:
        if not ancestor.stat().st_mode & stat.S_IXOTH:
            pytest.skip(f"{ancestor} is not searchable by other users")
    directory = Path(tempfile.mkdtemp(prefix="nearline-indexing-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)
