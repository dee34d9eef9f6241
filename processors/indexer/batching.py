"""Cut the walk's output into bounded sub-batches, one at a time.

A PUT may name a tree of millions of files; downstream work is done per sub-batch, so
each must stay small and the whole tree must never be held at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from processors.indexer.walk import FileRecord, Rejection


@dataclass(frozen=True)
class SubBatch:
    """One bounded piece of a PUT; ``bytes`` is the content size of its records."""

    index: int
    records: tuple[FileRecord, ...]
    rejections: tuple[Rejection, ...]
    bytes: int
    last: bool


def batches(
    items: Iterable[FileRecord | Rejection], max_files: int, max_bytes: int
) -> Iterator[SubBatch]:
    """Sub-batches of at most ``max_files`` items and ``max_bytes`` bytes, numbered from 0.

    Records and rejections both count toward ``max_files``; only record sizes count
    toward ``max_bytes``. A file larger than ``max_bytes`` travels alone. The final batch
    has ``last=True``, and there is always one, even for no items at all.
    """
    if max_files < 1 or max_bytes < 1:
        raise ValueError("max_files and max_bytes must be at least 1")
    index = 0
    records: list[FileRecord] = []
    rejections: list[Rejection] = []
    size = 0
    for item in items:
        adding = item.size if isinstance(item, FileRecord) else 0
        count = len(records) + len(rejections)
        full = count >= max_files or size > max_bytes or (count > 0 and size + adding > max_bytes)
        if full:
            # An item is waiting, so this batch is not the last one.
            yield SubBatch(index, tuple(records), tuple(rejections), size, last=False)
            index += 1
            records, rejections, size = [], [], 0
        if isinstance(item, FileRecord):
            records.append(item)
            size += adding
        else:
            rejections.append(item)
    yield SubBatch(index, tuple(records), tuple(rejections), size, last=True)
