"""Staging: prepare(STAGE) recalls OFFLINE files after the mount+seek delay, verified."""

from __future__ import annotations

import io
import os
import tarfile
import time
import zlib

import pytest

from stack import xrootd
from stores.tape.endpoint import TapeChecksumMismatch, TapeOffline
from tests.integration.tape.helpers import archived, eventually, flip_a_byte


@pytest.fixture
def offline(settings, endpoint, folder, stage_delay):
    """Write files, wait until they are on tape, evict them: ``offline(name, data)``."""

    def make(name: str, data: bytes) -> str:
        path = f"{folder}/{name}"
        endpoint.write(path, [data])
        archived(endpoint, path)
        assert xrootd.purge_buffer(settings, f"{endpoint.root}/{path}")
        return path

    return make


def test_a_stage_is_requested_then_online_after_the_delay(endpoint, offline, stage_delay):
    data = os.urandom(250_000)
    path = offline("recall.tar", data)

    request = endpoint.stage([path])
    pending = endpoint.stage_status(request, [path])[path]
    waited = eventually(lambda: endpoint.stage_status(request, [path])[path].online, what="recall")

    assert (pending.exists, pending.on_tape, pending.online) == (True, True, False)
    assert pending.requested and pending.has_request and pending.error is None
    assert stage_delay * 0.9 <= waited < stage_delay + 10
    done = endpoint.stage_status(request, [path])[path]
    assert (done.online, done.requested, done.error) == (True, False, None)
    assert endpoint.read_range(path, 0, len(data)) == data
    endpoint.verify(path, f"{zlib.adler32(data):08x}")


def test_members_of_a_staged_aggregate_are_read_by_range(endpoint, offline):
    members = {f"file-{n}.dat": os.urandom(10_000 + 7_777 * n) for n in range(4)}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    aggregate = buffer.getvalue()
    with tarfile.open(fileobj=io.BytesIO(aggregate)) as tar:
        layout = {m.name: (m.offset_data, m.size) for m in tar.getmembers()}
    path = offline("aggregate.tar", aggregate)

    with pytest.raises(TapeOffline):
        endpoint.read_range(path, *layout["file-1.dat"])
    request = endpoint.stage([path])
    eventually(lambda: endpoint.stage_status(request, [path])[path].online, what="recall")

    assert endpoint.read_range(path, *layout["file-2.dat"]) == members["file-2.dat"]
    endpoint.chunk_size = 4096  # members come back in several chunks
    got: dict[int, bytes] = {}
    wanted = [layout[name] for name in ("file-3.dat", "file-0.dat")]
    for byte_range, chunk in endpoint.read_ranges(path, wanted):
        assert len(chunk) <= 4096
        got[byte_range.offset] = got.get(byte_range.offset, b"") + chunk
    assert got == {
        layout["file-3.dat"][0]: members["file-3.dat"],
        layout["file-0.dat"][0]: members["file-0.dat"],
    }


def test_two_requests_for_one_file_recall_it_once(settings, endpoint, offline):
    path = offline("popular.tar", os.urandom(50_000))
    log = settings.home / "run" / "xrootd-tape.log"

    first, second = endpoint.stage([path]), endpoint.stage([path])
    both = [endpoint.stage_status(r, [path])[path] for r in (first, second)]
    eventually(lambda: endpoint.stat(path).online, what="recall")

    assert first != second
    assert all(state.requested and state.has_request for state in both)
    time.sleep(0.5)  # a second recall, if any, would have logged by now
    assert log.read_text().count(f"recalled {endpoint.root}/{path} ") == 1


def test_several_files_are_staged_and_queried_in_one_request(endpoint, offline):
    paths = [offline(f"many-{n:02d}-{'x' * 120}.tar", os.urandom(1000)) for n in range(12)]

    request = endpoint.stage(paths)
    eventually(
        lambda: all(s.online for s in endpoint.stage_status(request, paths).values()),
        what="recall of 12 files",
    )

    assert set(endpoint.stage_status(request, paths)) == set(paths)


def test_a_corrupted_tape_copy_fails_the_recall(endpoint, offline, layout):
    path = offline("corrupt.tar", os.urandom(100_000))
    flip_a_byte(layout.media / f"{endpoint.root}/{path}".lstrip("/"))

    request = endpoint.stage([path])
    eventually(
        lambda: endpoint.stage_status(request, [path])[path].error is not None,
        what="recall failure",
    )

    state = endpoint.stage_status(request, [path])[path]
    assert "checksum mismatch" in (state.error or "")
    assert (state.online, state.requested, state.has_request) == (False, False, True)
    assert not endpoint.stat(path).online


def test_a_corrupted_tape_copy_is_caught_against_the_recorded_checksum(endpoint, offline, layout):
    """Even when the endpoint cannot tell (its catalogue agrees with the bad copy), the
    checksum nearline recorded at write time catches the corruption after the recall."""
    data = os.urandom(100_000)
    path = offline("silently-corrupt.tar", data)
    lfn = f"{endpoint.root}/{path}".lstrip("/")
    flip_a_byte(layout.media / lfn)
    bad = f"{zlib.adler32((layout.media / lfn).read_bytes()):08x}"
    (layout.catalogue / lfn).write_text(f"{bad} {len(data)}\n")

    request = endpoint.stage([path])
    eventually(lambda: endpoint.stage_status(request, [path])[path].online, what="recall")

    with pytest.raises(TapeChecksumMismatch, match=bad):
        endpoint.verify(path, f"{zlib.adler32(data):08x}")


def test_a_cancelled_stage_is_not_recalled(endpoint, offline, stage_delay):
    path = offline("unwanted.tar", os.urandom(10_000))
    request = endpoint.stage([path])

    endpoint.cancel(request, [path])

    eventually(
        lambda: not endpoint.stage_status(request, [path])[path].requested, what="cancellation"
    )
    time.sleep(stage_delay + 1)  # past the recall it would have made
    state = endpoint.stage_status(request, [path])[path]
    assert (state.online, state.requested, state.error) == (False, False, None)


def test_staging_a_missing_file_reports_it(endpoint, folder, stage_delay):
    path = f"{folder}/never-written.tar"

    request = endpoint.stage([path])
    state = endpoint.stage_status(request, [path])[path]

    assert (state.exists, state.online, state.on_tape, state.requested) == (False,) * 4
    assert state.error == "file does not exist"
