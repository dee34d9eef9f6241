"""The tar an aggregate stream produces, as Python's tarfile and GNU tar read it."""

from __future__ import annotations

import io
import os
import random
import subprocess
import tarfile
import tracemalloc
import zlib

import pytest

from stores.checksums import adler32_concat
from stores.tape.aggregate import Member, member_headers, stream_aggregate
from stores.tape.cache_reading import READ_SIZE
from stores.tape.tar_format import BLOCK
from tests.unit.archive.fakes import MTIME_NS, FakeStore, cached_member, lazy_member
from tests.unit.archive.tars import (
    build,
    gnu_tar_listing,
    only_hdrcharset_warnings,
    tarfile_members,
    tarfile_name,
)

WEIRD_PATHS = [
    b"/data/plain.txt",
    b"/data/with space and\nnewline",
    b"/data/tab\tand\\backslash and \x7fdel",
    b"/data/latin1-caf\xe9",  # not UTF-8: needs hdrcharset=BINARY
    b"/data/utf8-caf\xc3\xa9-\xe2\x82\xac",
    b"/data/" + b"d" * 150 + b"/" + b"f" * 200,  # long: pax path
    b"/data/" + b"n" * 94,  # exactly 100 bytes: fits ustar
    b"/data/" + b"m" * 95,  # 101 bytes
    b"/data/ leading space",
    b"/data/empty",
    b"relative/no-slash",
    b"//data/two-slashes",
]


def weird_members(store: FakeStore) -> list[Member]:
    members = []
    for file_id, path in enumerate(WEIRD_PATHS, start=1):
        size = 0 if b"empty" in path else file_id * 700 + 3
        members.append(cached_member(store, file_id, path, os.urandom(size)))
    return members


def test_tarfile_reads_each_name_size_offset_and_content(store):
    members = weird_members(store)

    data, index = build(store, members)

    by_name = {m.path.lstrip(b"/"): m for m in members}
    infos = tarfile_members(data)
    assert [tarfile_name(i) for i in infos] == sorted(by_name, key=lambda n: by_name[n].path)
    copies = {c.file_id: c for c in index.members}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for info in infos:
            member = by_name[tarfile_name(info)]
            copy = copies[member.file_id]
            assert info.isreg()
            assert (info.size, info.mode, info.mtime) == (member.size, 0o640, MTIME_NS // 10**9)
            assert info.offset_data == copy.offset
            content = tar.extractfile(info).read()  # type: ignore[union-attr]
            assert content == store.read(member.object_key)
            assert data[copy.offset : copy.offset + copy.size] == content
    assert index.failed == ()


def test_gnu_tar_lists_and_extracts_the_exact_names(store, tmp_path):
    members = weird_members(store)
    data, _ = build(store, members)
    archive = tmp_path / "aggregate.tar"
    archive.write_bytes(data)

    listing, stderr = gnu_tar_listing(archive)

    expected = sorted((m.path, m) for m in members)
    assert listing == [(m.path.lstrip(b"/"), m.size) for _, m in expected]
    assert only_hdrcharset_warnings(stderr), stderr
    target = tmp_path / "out"
    target.mkdir()
    subprocess.run(
        ["tar", "--warning=no-unknown-keyword", "-xf", str(archive), "-C", str(target)],
        check=True,
    )
    for member in members:
        extracted = os.path.join(bytes(target), member.path.lstrip(b"/"))
        with open(extracted, "rb") as f:
            assert f.read() == store.read(member.object_key)


@pytest.mark.parametrize("length", [*range(90, 112), 508, 509, 510, 1000, 4090])
def test_every_name_length_round_trips(store, length):
    # Pax records count their own length's digits: lengths around 10, 100, 1000, ...
    path = b"/" + b"x" * (length - 1)
    member = cached_member(store, 1, path, b"content")

    data, index = build(store, [member])

    [info] = tarfile_members(data)
    assert tarfile_name(info) == path[1:]
    assert info.offset_data == index.members[0].offset


def test_names_that_fit_ustar_have_no_extended_header(store):
    fits = cached_member(store, 1, b"/" + b"a" * 100, b"")
    too_long = cached_member(store, 2, b"/" + b"a" * 101, b"")
    not_ascii = cached_member(store, 3, "/é".encode(), b"")
    assert len(member_headers(fits)) == BLOCK
    assert len(member_headers(too_long)) == 3 * BLOCK
    assert len(member_headers(not_ascii)) == 3 * BLOCK
    assert b"hdrcharset" not in member_headers(not_ascii)  # UTF-8: as POSIX.1-2001 wants
    latin1 = cached_member(store, 4, b"/caf\xe9", b"")
    assert b"21 hdrcharset=BINARY\n" in member_headers(latin1)


@pytest.mark.parametrize(
    ("size", "mtime_ns"),
    [(8**11, MTIME_NS), (2**40 + 5, MTIME_NS), (1, -1_500_000_000), (1, 8**11 * 10**9)],
)
def test_sizes_and_mtimes_beyond_ustar_go_in_pax_records(size, mtime_ns):
    member = Member(1, b"/big", "key", size, 0o600, mtime_ns, "0" * 64, "00000001")

    headers = member_headers(member)

    with tarfile.open(fileobj=io.BytesIO(headers), mode="r|") as tar:
        info = tar.next()
        assert info is not None
        assert (info.name, info.size, info.mtime) == ("big", size, mtime_ns // 10**9)


def test_the_tar_ends_with_two_zero_blocks_and_its_sums_are_the_streams(store):
    members = weird_members(store)

    data, index = build(store, members, write_size=BLOCK)

    assert data.endswith(bytes(2 * BLOCK))
    assert len(data) % BLOCK == 0
    assert (index.size, index.adler32) == (len(data), f"{zlib.adler32(data):08x}")


def test_zero_byte_members_have_an_offset_and_no_data(store):
    members = [cached_member(store, i, b"/empty-%d" % i, b"") for i in range(3)]

    data, index = build(store, members)

    assert [c.size for c in index.members] == [0, 0, 0]
    assert [i.offset_data for i in tarfile_members(data)] == [c.offset for c in index.members]
    assert len(data) == 3 * BLOCK + 2 * BLOCK


def test_a_large_member_streams_in_bounded_chunks(store):
    member = lazy_member(store, 1, b"/huge", 40 * 1024 * 1024 + 17)
    small = cached_member(store, 2, b"/small", b"x" * 100)
    write_size = 1024 * 1024

    data, index = build(store, [member, small], write_size=write_size)

    copy = {c.file_id: c for c in index.members}[1]
    assert copy.sha256 == member.sha256
    assert len(data) == index.size
    # The body was read in bounded pieces, never whole.
    assert store.client.whole_reads == []
    assert set(store.client.read_sizes) == {READ_SIZE}


def test_memory_stays_bounded_whatever_the_member_size(store):
    member = lazy_member(store, 1, b"/huge", 96 * 1024 * 1024)
    stream = stream_aggregate(store, [member], holding_id=1)
    largest = 0
    tracemalloc.start()
    try:
        for chunk in stream.chunks():
            largest = max(largest, len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stream.result().members[0].size == member.size
    assert largest <= 8 * 1024 * 1024 + READ_SIZE
    # A few write-size chunks (being built, handed over, queued ahead), not the member.
    assert peak < 40 * 1024 * 1024


def test_the_same_members_in_any_order_make_the_same_bytes(store):
    members = weird_members(store)

    first, index = build(store, members)
    second, again = build(store, list(reversed(members)))

    assert first == second
    assert index == again


@pytest.mark.parametrize("seed", range(20))
def test_adler32_of_concatenated_bytes_follows_from_the_parts(seed):
    rng = random.Random(seed)
    first = rng.randbytes(rng.choice([0, 1, 100, 70_000]))
    second = bytes([255]) * rng.choice([0, 1, 5552, 70_000]) + rng.randbytes(rng.randrange(999))

    combined = adler32_concat(zlib.adler32(first), zlib.adler32(second), len(second))

    assert combined == zlib.adler32(first + second)
