"""Aggregates streamed from the real S3 cache to the real tape endpoint, and read back."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from stores.failures import CORRUPT, NOT_IN_STORE
from stores.outcomes import Stored
from stores.s3.object_store import ObjectStore
from stores.tape.aggregate import AggregateIndex, Member, archive
from stores.tape.endpoint import TapeEndpoint
from stores.tape.members import MemberCorrupt, read_member, restore_members_to_cache
from tests.integration.archive.conftest import Cache
from tests.integration.tape.helpers import archived, flip_a_byte
from tests.unit.archive.tars import gnu_tar_listing, only_hdrcharset_warnings, tarfile_name


@pytest.fixture(scope="module")
def aggregate(populated, store: ObjectStore, tape: TapeEndpoint) -> AggregateIndex:
    cache, members = populated
    return archive(store, tape, cache.holding_id, members)


def whole(tape: TapeEndpoint, index: AggregateIndex) -> bytes:
    """The whole tape file (for checking only: restores read members by offset)."""
    return tape.read_range(index.name, 0, index.size)


def test_every_member_reaches_tape(populated, aggregate, tape):
    _, members = populated

    assert aggregate.failed == ()
    assert sorted(c.file_id for c in aggregate.members) == [m.file_id for m in members]
    assert tape.checksum(aggregate.name) == aggregate.adler32
    assert tape.stat(aggregate.name).size == aggregate.size
    archived(tape, aggregate.name)  # the endpoint migrated it with that checksum


def test_gnu_tar_and_tarfile_list_the_exact_names(populated, aggregate, tape, tmp_path):
    _, members = populated
    copy_on_disk = tmp_path / "aggregate.tar"
    data = whole(tape, aggregate)
    copy_on_disk.write_bytes(data)

    listing, stderr = gnu_tar_listing(copy_on_disk)

    expected = sorted((m.path, m.size) for m in members)
    assert listing == [(path.lstrip(b"/"), size) for path, size in expected]
    assert only_hdrcharset_warnings(stderr), stderr
    offsets = {c.path.lstrip(b"/"): c.offset for c in aggregate.members}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert {tarfile_name(i): i.offset_data for i in tar.getmembers()} == offsets


def test_members_are_read_back_by_offset(populated, aggregate, tape):
    cache, _ = populated
    copies = {c.file_id: c for c in aggregate.members}

    for file_id in (1, 2, 10, 33, 51, 52):  # awkward names, empty, small, 20 MiB
        data = b"".join(read_member(tape, aggregate.name, copies[file_id]))
        assert data == cache.content[file_id]


def test_archiving_the_same_members_again_writes_nothing(populated, aggregate, store, tape):
    cache, members = populated

    again = archive(store, tape, cache.holding_id, list(reversed(members)))

    assert again.reused
    assert (again.name, again.size, again.adler32) == (
        aggregate.name,
        aggregate.size,
        aggregate.adler32,
    )
    assert again.members == aggregate.members


def test_members_are_restored_to_the_cache_byte_identical(populated, aggregate, store, tape):
    cache, _ = populated
    prefix = f"h{cache.holding_id}/{cache.transaction}/restored"
    wanted = [c for c in aggregate.members if c.file_id in (2, 10, 20, 51)]
    keys = {c.file_id: f"{prefix}/{c.file_id}" for c in wanted}

    done = restore_members_to_cache(store, tape, aggregate.name, wanted, keys)

    assert sorted(done.restored) == [2, 10, 20, 51] and done.failed == ()
    for copy in wanted:
        key = keys[copy.file_id]
        body = store.client.get_object(Bucket=store.bucket, Key=key)
        assert body["Body"].read() == cache.content[copy.file_id]
        assert body["Metadata"] == {
            "size": str(copy.size),
            "adler32": copy.adler32,
            "sha256": copy.sha256,
        }
    # A later GET verifies the restored object as any other.
    target = os.path.join(os.fsencode(cache.folder), b"downloaded")
    big = next(c for c in wanted if c.file_id == 51)
    assert isinstance(store.download(keys[51], target, big.sha256, big.size), Stored)


def small_set(cache: Cache, count: int = 6) -> list[Member]:
    return [cache.add(i, b"/set/file-%d" % i, os.urandom(1000 * i + 1)) for i in range(count)]


def test_a_member_whose_object_is_gone_fails_alone(cache, store, tape):
    members = small_set(cache)
    store.delete(members[2].object_key)

    index = archive(store, tape, cache.holding_id, members)

    assert index.failed == ((2, NOT_IN_STORE),)
    assert sorted(c.file_id for c in index.members) == [0, 1, 3, 4, 5]
    for copy in index.members:
        assert b"".join(read_member(tape, index.name, copy)) == cache.content[copy.file_id]


def test_a_member_whose_object_was_replaced_fails_alone(cache, store, tape):
    members = small_set(cache)
    store.delete(members[4].object_key)
    replaced = cache.add(4, members[4].path, os.urandom(members[4].size))  # another sha256
    assert replaced.sha256 != members[4].sha256

    index = archive(store, tape, cache.holding_id, members)

    [(file_id, reason)] = index.failed
    assert file_id == 4 and "sha256" in reason
    assert sorted(c.file_id for c in index.members) == [0, 1, 2, 3, 5]


def test_content_found_corrupt_while_streaming_is_not_indexed(cache, store, tape):
    members = small_set(cache)
    bad = members[3]
    # Other bytes under the metadata of the right ones: only streaming can tell.
    head = store.client.head_object(Bucket=store.bucket, Key=bad.object_key)
    store.client.put_object(
        Bucket=store.bucket,
        Key=bad.object_key,
        Body=os.urandom(bad.size),
        Metadata=head["Metadata"],
    )

    index = archive(store, tape, cache.holding_id, members)

    assert index.failed == ((3, CORRUPT),)
    assert sorted(c.file_id for c in index.members) == [0, 1, 2, 4, 5]
    with tarfile.open(fileobj=io.BytesIO(whole(tape, index))) as tar:
        assert len(tar.getmembers()) == 6  # the tar is whole; the bad bytes just unindexed
    for copy in index.members:
        assert b"".join(read_member(tape, index.name, copy)) == cache.content[copy.file_id]


def test_a_member_corrupted_on_tape_is_refused(cache, store, tape, settings):
    from stack import tape as stack_tape

    members = small_set(cache, 3)
    index = archive(store, tape, cache.holding_id, members)
    archived(tape, index.name)  # migrated first, so that only the disk copy is bad
    copy = index.members[1]
    layout = stack_tape.TapeLayout.of(settings)
    flip_a_byte(layout.buffer / f"{tape.root}/{index.name}".lstrip("/"), copy.offset + 5)

    with pytest.raises(MemberCorrupt, match=f"member {copy.file_id}"):
        list(read_member(tape, index.name, copy))
    assert b"".join(read_member(tape, index.name, index.members[0])) == cache.content[0]


def test_restored_members_replace_lost_cache_objects(cache, store, tape):
    members = small_set(cache, 4)
    index = archive(store, tape, cache.holding_id, members)
    for member in members:
        store.delete(member.object_key)
    keys = {m.file_id: m.object_key for m in members}

    done = restore_members_to_cache(store, tape, index.name, index.members, keys)

    assert sorted(done.restored) == [0, 1, 2, 3]
    for member in members:
        target = os.path.join(os.fsencode(cache.folder), b"back-%d" % member.file_id)
        assert isinstance(
            store.download(member.object_key, target, member.sha256, member.size), Stored
        )
        with open(target, "rb") as f:
            assert f.read() == cache.content[member.file_id]
