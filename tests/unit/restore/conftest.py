"""Real trees to restore into, catalog entries to restore, and a store that serves them.

A restore runs in a worker with the requester's own uid and groups, so the kernel decides
what they may write and what is made is theirs. The tests run as root and act for fake
uids (no passwd entry is needed); every tree is built in a directory other users can
reach (pytest's own ``tmp_path`` sits under a 0700 directory).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from domain.pack_keys import slice_of
from events.catalog import CatalogedFile
from processors.transfer_get.restore import Outcomes, Refusal, Restored, plan, restore
from stores.checksums import Checksummer
from stores.failures import CORRUPT, NOT_IN_STORE, download_failure
from stores.outcomes import Failure, Stored
from stores.posix.requesters import Requester
from stores.posix.session import UserFiles
from stores.s3.object_store import RunTarget
from stores.s3.verified_files import ContentMismatch, fill_verified

# Ids no account on a test host is expected to have.
ALICE_UID = 12345
STRANGER_UID = 23456
ORIGINAL_UID, ORIGINAL_GID = 34567, 45678
TEAM_GID = 56789
MIN_UID = 1000
MTIME_NS = 1_234_567_890_123_456_789  # every digit matters: restored to the nanosecond

ALICE = Requester("alice", ALICE_UID, frozenset([ALICE_UID]), ALICE_UID)
STRANGER = Requester("stranger", STRANGER_UID, frozenset([STRANGER_UID]), STRANGER_UID)

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to chown test files and act for other uids"
)


def session(who: Requester = ALICE) -> UserFiles:
    """A file-system worker acting as ``who``."""
    return UserFiles(who, min_uid=MIN_UID)


@pytest.fixture
def files() -> Iterator[UserFiles]:
    """Alice's own file-system worker."""
    with session(ALICE) as worker:
        yield worker


@pytest.fixture
def public_dir() -> Iterator[bytes]:
    """A root-owned 0755 directory every user can reach (pytest's tmp_path is 0700)."""
    base = Path(tempfile.gettempdir())
    for ancestor in [base, *base.parents]:
        if not ancestor.stat().st_mode & stat.S_IXOTH:
            pytest.skip(f"{ancestor} is not searchable by other users")
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


def owner(path: bytes) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid


def mode_of(path: bytes) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


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
    """Serves stored contents the way ``ObjectStore.download_into`` does: into the open
    file the requester's worker made, verified, or a failure."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.failures: dict[str, Failure] = {}  # keys the store fails to serve
        self.downloads: list[bytes] = []  # where each download wrote, as the kernel saw it
        self.runs: list[list[str]] = []  # the slice keys of each run read in one request

    def put(self, entry: CatalogedFile, data: bytes) -> CatalogedFile:
        assert entry["object_key"] is not None
        self.objects[entry["object_key"]] = data
        return entry

    slice_of = staticmethod(slice_of)

    def download_run_into(
        self, pack: str, into: Sequence[RunTarget], durable: bool = True
    ) -> list[Stored | Failure]:
        assert all(t.slice.pack == pack for t in into)
        self.runs.append([t.slice.key for t in into])
        return [
            self.download_into(t.slice.key, t.fd, t.sha256, t.slice.size, durable) for t in into
        ]

    def download_into(
        self, key: str, fd: int, expected_sha256: str, expected_size: int, durable: bool = True
    ) -> Stored | Failure:
        self.downloads.append(os.fsencode(os.readlink(f"/proc/self/fd/{fd}")))
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return Failure("the restore was not given a regular file to write", False)
        if key in self.failures:
            return self.failures[key]
        if key not in self.objects:
            return Failure(NOT_IN_STORE, False)
        try:
            sums = fill_verified([self.objects[key]], fd, expected_sha256, expected_size, durable)
        except ContentMismatch:
            return Failure(CORRUPT, False)
        except OSError as exc:
            return download_failure(exc)  # as the real store words it
        return Stored(key, sums.size, sums.adler32, sums.sha256, "etag")


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def restored(
    store: FakeStore,
    entries: Sequence[CatalogedFile],
    target: bytes | None,
    overwrite: bool = False,
    who: Requester = ALICE,
) -> Outcomes:
    """Plan ``entries`` (expecting no refusal) and restore them as ``who``."""
    planned = plan(entries, target, who, overwrite)
    assert planned.refusals == []
    with session(who) as worker:
        return restore(planned, worker, store)


def failures(outcomes: Outcomes | Sequence[Restored | Refusal]) -> dict[bytes, str]:
    results = outcomes.results if isinstance(outcomes, Outcomes) else outcomes
    return {o.path: o.reason for o in results if isinstance(o, Refusal)}


def partials(folder: bytes) -> list[bytes]:
    """The partial files left in ``folder`` (there should never be any)."""
    return [name for name in os.listdir(folder) if name.endswith(b".nearline-partial")]
