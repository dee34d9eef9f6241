"""Members that cannot be archived fail alone; a cache that fails mid-way fails it all."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ResponseStreamingError

from stores.failures import CORRUPT, NOT_IN_STORE
from stores.tape.aggregate import AggregateStream, aggregate_name, archive, stream_aggregate
from stores.tape.cache_reading import CacheFailure
from tests.unit.archive.fakes import cached_member, client_error, lazy_member
from tests.unit.archive.tars import HOLDING, build, tarfile_members, tarfile_name


def three(store):
    return [cached_member(store, i, b"/f/%d" % i, b"%d" % i * (1000 * i)) for i in (1, 2, 3)]


def test_a_missing_object_fails_alone_before_its_header(store):
    members = three(store)
    del store.client.objects[members[1].object_key]

    data, index = build(store, members)

    assert index.failed == ((2, NOT_IN_STORE),)
    assert [c.file_id for c in index.members] == [1, 3]
    assert [tarfile_name(i) for i in tarfile_members(data)] == [b"f/1", b"f/3"]
    # One request per member: its GET tells that it is missing; no HEAD before.
    assert store.client.heads == []
    assert sorted(store.client.gets) == sorted(m.object_key for m in members)


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"sha256": "0" * 64}, "records another sha256"),
        ({"adler32": "00000000"}, "records another adler32"),
    ],
)
def test_an_object_recording_other_checksums_fails_alone(store, metadata, reason):
    members = three(store)
    store.client.objects[members[0].object_key].metadata.update(metadata)

    data, index = build(store, members)

    [(file_id, why)] = index.failed
    assert file_id == 1 and reason in why
    assert [tarfile_name(i) for i in tarfile_members(data)] == [b"f/2", b"f/3"]


def test_an_object_of_another_size_fails_alone(store):
    members = three(store)
    store.put(members[2].object_key, b"shorter")

    _, index = build(store, members)

    assert index.failed == ((3, "the cached object has 7 bytes, not 3000"),)


def test_content_found_wrong_while_streaming_is_written_but_not_indexed(store):
    members = three(store)
    # Same size and metadata, other bytes: only streaming can tell.
    store.client.objects[members[1].object_key].data = b"X" * 2000

    data, index = build(store, members)

    assert index.failed == ((2, CORRUPT),)
    assert [c.file_id for c in index.members] == [1, 3]
    # The tar stays whole and readable: the bad bytes went out, but no offset points at them.
    infos = tarfile_members(data)
    assert [tarfile_name(i) for i in infos] == [b"f/1", b"f/2", b"f/3"]
    copies = {c.file_id: c for c in index.members}
    assert [copies[1].offset, copies[3].offset] == [infos[0].offset_data, infos[2].offset_data]


def test_an_object_removed_just_before_its_read_fails_alone(store, tape):
    members = three(store)
    key = members[2].object_key
    store.client.before_get[key] = lambda: store.client.objects.pop(key)

    index = archive(store, tape, HOLDING, members)

    assert index.failed == ((3, NOT_IN_STORE),)
    assert [c.file_id for c in index.members] == [1, 2]
    # The name is the one of all three members: what the catalog scheduled.
    assert index.name == aggregate_name(HOLDING, members)


def test_an_object_replaced_just_before_its_read_fails_alone(store, tape):
    members = three(store)
    key = members[0].object_key
    store.client.before_get[key] = lambda: store.put(key, b"other")

    index = archive(store, tape, HOLDING, members)

    assert index.failed == ((1, "the cached object has 5 bytes, not 1000"),)
    assert [c.file_id for c in index.members] == [2, 3]


def test_a_store_failing_mid_object_aborts_the_aggregate(store, tape):
    big = lazy_member(store, 1, b"/big", 5 * 1024 * 1024)
    store.client.body_faults[big.object_key] = ResponseStreamingError(error="reset")

    with pytest.raises(CacheFailure) as raised:
        archive(store, tape, HOLDING, [big])

    assert raised.value.retryable
    assert tape.files == {}
    assert all(body.closed for body in store.client.bodies)


def test_a_store_refusing_a_read_archives_nothing(store, tape):
    members = three(store)

    def refuse() -> None:
        raise client_error(503, "SlowDown", "GetObject")

    store.client.before_get[members[1].object_key] = refuse

    with pytest.raises(CacheFailure, match="SlowDown") as raised:
        archive(store, tape, HOLDING, members)

    assert raised.value.retryable
    assert tape.files == {}


def test_with_no_member_left_nothing_is_written(store, tape):
    members = three(store)
    store.client.objects.clear()

    index = archive(store, tape, HOLDING, members)

    assert (index.size, index.members) == (0, ())
    assert [f.file_id for f in index.failed] == [1, 2, 3]
    assert tape.files == {}


def test_a_consumer_that_stops_early_stops_the_stream(store):
    member = lazy_member(store, 1, b"/big", 64 * 1024 * 1024)
    stream = stream_aggregate(store, [member], holding_id=HOLDING, write_size=1024 * 1024)

    chunks = stream.chunks()
    next(chunks)
    chunks.close()  # type: ignore[attr-defined]

    assert not [t for t in threading.enumerate() if t.name.startswith("nearline-aggregate")]
    assert all(body.closed for body in store.client.bodies)
    with pytest.raises(RuntimeError, match="not read to its end"):
        stream.result()


def test_a_stream_is_read_once_and_has_a_result_only_at_its_end(store):
    stream: AggregateStream = stream_aggregate(store, three(store), holding_id=HOLDING)
    with pytest.raises(RuntimeError):
        stream.result()
    chunks = stream.chunks()
    with pytest.raises(RuntimeError, match="read once"):
        stream.chunks()
    for _ in chunks:
        pass
    assert len(stream.result().members) == 3


def test_rearchiving_the_same_members_reuses_the_tape_file(store, tape):
    members = three(store)

    first = archive(store, tape, HOLDING, members)
    again = archive(store, tape, HOLDING, list(reversed(members)))

    assert not first.reused and again.reused
    assert again == type(first)(**{**first.__dict__, "reused": True})
    assert list(tape.files) == [first.name]
    assert len(tape.files[first.name]) == first.size
