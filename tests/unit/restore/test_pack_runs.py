"""Small files of a GET that are slices of one pack (D90) are read as runs, one request
for up to RUN_BYTES of neighbouring slices, not one request per file."""

from __future__ import annotations

import hashlib
import os

from domain.pack_keys import pack_key
from processors.transfer_get.restore import FILES_AT_ONCE, pack_runs
from processors.transfer_get.restoring import restore_batch
from stores.tape.cache_reading import RUN_BYTES, RUN_GAP

from .conftest import ALICE, file_entry, needs_root, session


def pack(name: str) -> str:
    return pack_key("h1/t1/", hashlib.sha256(name.encode()).hexdigest())


def sliced(name: str, offset: int, size: int, n: int) -> dict:
    entry = file_entry(b"/run/f%04d" % n, os.urandom(size))
    return {**entry, "object_key": f"{pack(name)}#{offset}+{size}"}


def grouped(entries: list[dict]) -> list[list[int]]:
    items = [(n, 100 + n) for n in range(len(entries))]
    return [[index for index, _fd in run] for run in pack_runs(items, entries)]


def test_neighbouring_slices_of_a_pack_are_one_run():
    entries = [sliced("p", n * 4096, 4096, n) for n in range(100)]
    assert grouped(entries) == [list(range(100))]


def test_runs_split_at_their_size_at_gaps_and_between_packs():
    size = RUN_BYTES // 4
    big = [sliced("p", n * size, size, n) for n in range(6)]  # 6 quarters: two runs
    assert [len(run) for run in grouped(big)] == [4, 2]
    apart = [sliced("p", 0, 10, 0), sliced("p", 10 + RUN_GAP + 1, 10, 1)]
    assert grouped(apart) == [[0], [1]]
    packs = [sliced("a", 0, 10, 0), sliced("b", 10, 10, 1), sliced("a", 10, 10, 2)]
    assert sorted(grouped(packs)) == [[0, 2], [1]]
    whole = file_entry(b"/run/whole", b"own object")
    assert grouped([whole, sliced("a", 0, 10, 1)]) == [[0], [1]]


@needs_root
def test_a_get_of_a_packs_small_files_reads_it_in_runs(target, store):
    files = []
    for n in range(300):
        data = os.urandom(1000 + n)
        entry = {**sliced("pack1", n * 4000, len(data), n), "size": len(data)}
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        store.objects[entry["object_key"]] = data
        files.append({**entry, "file_id": n, "holding_id": 1})
    with session(ALICE) as worker:
        outcome = restore_batch(store, worker, files, target, overwrite=False)
    assert len(outcome.restored) == 300
    # One request per FILES_AT_ONCE files (the descriptors open at once), not per file.
    sizes = [len(run) for run in store.runs]
    assert sizes == [FILES_AT_ONCE] * (300 // FILES_AT_ONCE) + [300 % FILES_AT_ONCE]
    with open(target + b"/run/f0007", "rb") as restored:
        assert restored.read() == store.objects[files[7]["object_key"]]
