"""Restoring files straight from an online aggregate on the real XRootD endpoint (D231):
each member read by offset into its open file and checked against its own sha256; runs
of small members read as one range; a large one streamed; a wrong or foreign key, a bad
copy and an aggregate that is gone all refused with a reason."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator

import pytest

from domain.pack_keys import Slice
from stores.outcomes import Failure, Stored
from stores.s3.object_store import RunTarget
from stores.tape import staged_files
from stores.tape.endpoint import TapeEndpoint
from stores.tape.members import TAPE_CORRUPT
from stores.tape.staged_files import StagedAggregate


@pytest.fixture
def files() -> Iterator[list[int]]:
    """Open, empty files to restore into; closed and removed after."""
    folder = tempfile.mkdtemp(prefix="nearline-staged-")
    fds = [os.open(f"{folder}/f{i}", os.O_RDWR | os.O_CREAT, 0o600) for i in range(4)]
    yield fds
    for fd in fds:
        os.close(fd)
    for name in os.listdir(folder):
        os.unlink(f"{folder}/{name}")
    os.rmdir(folder)


def written(fd: int) -> bytes:
    return os.pread(fd, os.fstat(fd).st_size + 1, 0)


def aggregate_of(endpoint: TapeEndpoint, path: str, members: list[bytes]) -> list[RunTarget]:
    """Write the members one after another, with a gap between them, as one file."""
    data, places = b"", []
    for member in members:
        data += b"\0" * 512
        places.append((len(data), member))
        data += member
    endpoint.write(path, [data])
    return [
        RunTarget(Slice(path, offset, len(m)), -1, hashlib.sha256(m).hexdigest())
        for offset, m in places
    ]


def into(targets: list[RunTarget], fds: list[int]) -> list[RunTarget]:
    return [RunTarget(t.slice, fd, t.sha256) for t, fd in zip(targets, fds, strict=False)]


def test_members_are_restored_from_the_aggregate_by_offset(endpoint, folder, files, monkeypatch):
    members = [os.urandom(700), b"", os.urandom(3000), os.urandom(5000)]
    path = f"{folder}/agg.tar"
    targets = into(aggregate_of(endpoint, path, members), files)
    staged = StagedAggregate(endpoint, path)
    assert [staged.slice_of(t.slice.key) for t in targets] == [t.slice for t in targets]

    outcomes = staged.download_run_into(path, targets[:3], durable=False)  # one range
    assert all(isinstance(o, Stored) for o in outcomes), outcomes
    assert [written(fd) for fd in files[:3]] == members[:3]

    monkeypatch.setattr(staged_files, "THREADED_FROM", 1000)  # streamed, read ahead
    last = targets[3]
    outcome = staged.download_into(last.slice.key, last.fd, last.sha256, len(members[3]))
    assert isinstance(outcome, Stored) and outcome.sha256 == last.sha256
    assert written(last.fd) == members[3]


def test_a_copy_that_is_not_the_cataloged_one_is_refused(endpoint, folder, files):
    path = f"{folder}/agg.tar"
    (target,) = into(aggregate_of(endpoint, path, [os.urandom(900)]), files)
    staged = StagedAggregate(endpoint, path)
    wrong = RunTarget(target.slice, target.fd, "0" * 64)
    assert staged.download_run_into(path, [wrong]) == [Failure(TAPE_CORRUPT, False)]


def test_keys_of_another_aggregate_or_malformed_ones_are_refused(endpoint, folder, files):
    path = f"{folder}/agg.tar"
    (target,) = into(aggregate_of(endpoint, path, [os.urandom(900)]), files)
    staged = StagedAggregate(endpoint, path)
    other = f"{folder}/other.tar"
    assert staged.slice_of(Slice(other, 512, 900).key) is None
    assert staged.slice_of(f"{path}#512") is None
    assert staged.slice_of(f"{path}#-1+900") is None
    refused = staged.download_into(f"{other}#512+900", target.fd, target.sha256, 900)
    assert isinstance(refused, Failure) and not refused.retryable
    assert staged.download_run_into(other, [target])[0] == refused
    assert written(target.fd) == b""


def test_an_aggregate_that_is_gone_fails_its_files_naming_nothing(endpoint, folder, files):
    path = f"{folder}/gone.tar"
    staged = StagedAggregate(endpoint, path)  # never written
    target = RunTarget(Slice(path, 0, 10), files[0], "0" * 64)
    (failure,) = staged.download_run_into(path, [target])
    assert failure == Failure("reading the aggregate failed (TapeNotFound)", False)
    assert written(files[0]) == b""
