"""Real trees to restore into, catalog entries to restore, and a store that serves them."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator

import pytest

from events.catalog import CatalogedFile
from processors.indexing.access import Requester
from processors.transfer.checksums import Checksummer
from processors.transfer.failures import CORRUPT, NOT_IN_STORE
from processors.transfer.outcomes import Failure, Stored
from processors.transfer.verified_files import ContentMismatch, write_verified

# Ids no account on a test host is expected to have.
ALICE_UID = 12345
STRANGER_UID = 23456
ORIGINAL_UID, ORIGINAL_GID = 34567, 45678
MTIME_NS = 1_234_567_890_123_456_789  # every digit matters: restored to the nanosecond

ALICE = Requester("alice", ALICE_UID, frozenset([ALICE_UID]))
STRANGER = Requester("stranger", STRANGER_UID, frozenset([STRANGER_UID]))

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown test files")


@pytest.fixture
def public_dir() -> Iterator[bytes]:
    """A root-owned 0755 directory every user can reach (pytest's tmp_path is 0700)."""
    base = tempfile.gettempdir()
    if not os.stat(base).st_mode & stat.S_IXOTH:
        pytest.skip(f"{base} is not searchable by other users")
    directory = tempfile.mkdtemp(prefix="nearline-restore-").encode()
    os.chmod(directory, 0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


@pytest.fixture
def target(public_dir: bytes) -> bytes:
    """Alice's own 0755 directory to restore into."""
    return made_dir(public_dir + b"/out", 0o755, ALICE_UID)


def made_dir(path: bytes, mode: int, uid: int = 0, gid: int | None = None) -> bytes:
    os.mkdir(path)
    os.chown(path, uid, uid if gid is None else gid)
    os.chmod(path, mode)
    return path


def made_file(path: bytes, data: bytes = b"old", mode: int = 0o644, uid: int = 0) -> bytes:
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, uid, uid)
    os.chmod(path, mode)
    return path


def read(path: bytes) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def file_entry(
    path: bytes,
    data: bytes = b"content",
    *,
    mode: int = stat.S_IFREG | 0o640,
    uid: int = ORIGINAL_UID,
    gid: int = ORIGINAL_GID,
    mtime_ns: int = MTIME_NS,
) -> CatalogedFile:
    return CatalogedFile(
        path=path,
        path_type="FILE",
        link_path=None,
        size=len(data),
        mode=mode,
        uid=uid,
        gid=gid,
        mtime_ns=mtime_ns,
        object_key=f"h1/t1/{hashlib.sha256(path).hexdigest()}",
        adler32=Checksummer().adler32,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def dir_entry(
    path: bytes,
    *,
    mode: int = stat.S_IFDIR | 0o750,
    uid: int = ORIGINAL_UID,
    gid: int = ORIGINAL_GID,
    mtime_ns: int = MTIME_NS,
) -> CatalogedFile:
    return CatalogedFile(
        path=path,
        path_type="DIRECTORY",
        link_path=None,
        size=0,
        mode=mode,
        uid=uid,
        gid=gid,
        mtime_ns=mtime_ns,
        object_key=None,
        adler32=None,
        sha256=None,
    )


def link_entry(
    path: bytes,
    link: bytes,
    *,
    uid: int = ORIGINAL_UID,
    gid: int = ORIGINAL_GID,
    mtime_ns: int = MTIME_NS,
) -> CatalogedFile:
    return CatalogedFile(
        path=path,
        path_type="LINK",
        link_path=link,
        size=len(link),
        mode=stat.S_IFLNK | 0o777,
        uid=uid,
        gid=gid,
        mtime_ns=mtime_ns,
        object_key=None,
        adler32=None,
        sha256=None,
    )


class FakeStore:
    """Serves stored contents the way ObjectStore.download does: verified, or nothing."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.downloads: list[bytes] = []

    def put(self, entry: CatalogedFile, data: bytes) -> CatalogedFile:
        assert entry["object_key"] is not None
        self.objects[entry["object_key"]] = data
        return entry

    def download(
        self,
        key: str,
        target: bytes,
        expected_sha256: str,
        expected_size: int,
        dir_fd: int | None = None,
    ) -> Stored | Failure:
        self.downloads.append(target if dir_fd is None else _in(dir_fd, target))
        if key not in self.objects:
            return Failure(NOT_IN_STORE, False)
        try:
            sums = write_verified(
                [self.objects[key]], target, expected_sha256, expected_size, dir_fd=dir_fd
            )
        except ContentMismatch:
            return Failure(CORRUPT, False)
        except OSError as exc:
            return Failure(f"cannot write the file: {exc.strerror}", False)
        return Stored(key, sums.size, sums.adler32, sums.sha256, "etag")


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def _in(dir_fd: int, name: bytes) -> bytes:
    """The path of ``name`` in the open directory ``dir_fd``, as the kernel sees it now."""
    return os.path.join(os.fsencode(os.readlink(f"/proc/self/fd/{dir_fd}")), name)
