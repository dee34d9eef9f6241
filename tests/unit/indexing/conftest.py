"""Requesters and places to build real trees for the indexing tests.

The walk runs in a worker with the requester's own uid, so every tree is built in a
directory other users can reach (pytest's own ``tmp_path`` sits under a 0700 directory).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from processors.indexer.walk import FileRecord, Rejection
from processors.indexer.walk import walk as walk_with
from stores.posix.requesters import Requester
from stores.posix.session import UserFiles

# Ids no account on a test host is expected to have.
OWNER_UID = 12345
STRANGER_UID = 23456
SHARED_GID = 34567

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown test files")


def walk(
    paths: Iterable[bytes], who: Requester, list_file: bytes | None = None
) -> list[FileRecord | Rejection]:
    """The walk of ``paths`` as ``who``, in their own worker."""
    with UserFiles(who, min_uid=1000) as files:
        return list(walk_with(files, list(paths), list_file))


@pytest.fixture
def me() -> Requester:
    """The owner of every tree a test builds under ``tmp_path``."""
    return Requester(name="owner", uid=OWNER_UID, gids=frozenset([OWNER_UID]), gid=OWNER_UID)


@pytest.fixture
def stranger() -> Requester:
    """Someone who owns nothing in the tests and is in no group they use."""
    return Requester(name="stranger", uid=STRANGER_UID, gids=frozenset([STRANGER_UID]))


def _public() -> Path:
    base = Path(tempfile.gettempdir())
    for ancestor in [base, *base.parents]:
        if not ancestor.stat().st_mode & stat.S_IXOTH:
            pytest.skip(f"{ancestor} is not searchable by other users")
    directory = Path(tempfile.mkdtemp(prefix="nearline-indexing-"))
    directory.chmod(0o755)
    return directory


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A root-owned directory every user can reach."""
    directory = _public()
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A directory owned by ``me`` that every user can reach, in place of pytest's own;
    what the tests make in it as root is handed to ``me`` before the walk (``own``)."""
    directory = _public()
    os.chown(directory, OWNER_UID, OWNER_UID)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def read_path_list(path: bytes, who: Requester) -> tuple[list[bytes], list[Rejection]]:
    """The paths of a path list file as ``who`` reads it, and its rejection if unread."""
    with UserFiles(who, min_uid=1000) as files:
        paths, reason = files.read_list(path)
    if reason is None:
        return paths, []
    return [], [Rejection(path, f"path list file {os.fsdecode(path)} could not be read: {reason}")]


def own(root: Path, uid: int = OWNER_UID) -> None:
    """Give everything below ``root`` (made by the root test process) to ``uid``."""
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)
