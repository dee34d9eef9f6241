"""Sub-batches are bounded by count and bytes, numbered, end with last=True, and stream."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from processors.indexer.batching import SubBatch, batches
from processors.indexer.walk import FILE, FileRecord, Rejection

from .conftest import walk


def file(size: int, name: str = "f") -> FileRecord:
    return FileRecord(name.encode(), FILE, None, size, 0o100644, 0, 0, 0)


def refused(name: str = "r") -> Rejection:
    return Rejection(name.encode(), "not found")


def shape(cut: list[SubBatch]) -> list[tuple[int, int, int, bool]]:
    """(records, rejections, bytes, last) of each batch, after checking the numbering."""
    assert [batch.index for batch in cut] == list(range(len(cut)))
    return [(len(b.records), len(b.rejections), b.bytes, b.last) for b in cut]


def test_no_items_still_give_one_empty_last_batch():
    assert shape(list(batches([], max_files=10, max_bytes=100))) == [(0, 0, 0, True)]


def test_count_bound():
    cut = list(batches([file(1) for _ in range(7)], max_files=3, max_bytes=100))
    assert shape(cut) == [(3, 0, 3, False), (3, 0, 3, False), (1, 0, 1, True)]


def test_byte_bound_closes_before_passing_it():
    cut = list(batches([file(40), file(40), file(40), file(20)], max_files=10, max_bytes=100))
    assert shape(cut) == [(2, 0, 80, False), (2, 0, 60, True)]


def test_exactly_max_bytes_fits():
    cut = list(batches([file(50), file(50), file(1)], max_files=10, max_bytes=100))
    assert shape(cut) == [(2, 0, 100, False), (1, 0, 1, True)]


def test_oversize_file_travels_alone():
    items: list[FileRecord | Rejection] = [file(10), file(500), file(0), refused()]
    cut = list(batches(items, max_files=10, max_bytes=100))
    assert shape(cut) == [(1, 0, 10, False), (1, 0, 500, False), (1, 1, 0, True)]


def test_rejections_count_toward_max_files():
    cut = list(batches([refused() for _ in range(5)], max_files=2, max_bytes=100))
    assert shape(cut) == [(0, 2, 0, False), (0, 2, 0, False), (0, 1, 0, True)]


def test_rejections_travel_with_the_batch_being_filled():
    items: list[FileRecord | Rejection] = [file(1, "a"), refused("x"), file(1, "b"), refused("y")]
    cut = list(batches(items, max_files=3, max_bytes=100))
    assert shape(cut) == [(2, 1, 2, False), (0, 1, 0, True)]
    assert [r.path for r in cut[0].records] == [b"a", b"b"]


def test_last_batch_full_to_the_brim_is_still_marked_last():
    assert shape(list(batches([file(1)] * 4, max_files=2, max_bytes=100))) == [
        (2, 0, 2, False),
        (2, 0, 2, True),
    ]


def test_every_item_comes_out_once_in_order():
    items = [file(i % 7, str(i)) if i % 5 else refused(str(i)) for i in range(1000)]
    cut = list(batches(items, max_files=13, max_bytes=20))
    assert all(len(b.records) + len(b.rejections) <= 13 for b in cut)
    assert all(b.bytes <= 20 for b in cut)
    assert sum(len(b.records) + len(b.rejections) for b in cut) == 1000
    assert [r.path for b in cut for r in b.records] == [
        i.path for i in items if isinstance(i, FileRecord)
    ]


def test_streams_an_endless_walk():
    pulled = 0

    def endless() -> Iterator[FileRecord]:
        nonlocal pulled
        for n in itertools.count():
            pulled += 1
            yield file(1, str(n))

    first = list(itertools.islice(batches(endless(), max_files=100, max_bytes=10**9), 3))
    assert shape(first) == [(100, 0, 100, False)] * 3
    assert pulled <= 301  # the item that closed the third batch at most


@pytest.mark.parametrize(("max_files", "max_bytes"), [(0, 1), (1, 0)])
def test_bounds_must_be_positive(max_files, max_bytes):
    with pytest.raises(ValueError):
        list(batches([], max_files=max_files, max_bytes=max_bytes))


def test_a_walked_tree_comes_in_bounded_batches(tmp_path, me):
    for n in range(25):
        (tmp_path / f"f{n:02}").write_bytes(b"x" * n)
    cut = list(batches(walk([os.fsencode(tmp_path)], me), max_files=10, max_bytes=10**6))
    assert shape(cut) == [(10, 0, 36, False), (10, 0, 135, False), (6, 0, 129, True)]
