"""Packs: the small files of a sub-batch stored together as one S3 object (D90).

An object per small file costs a request, on the store's CPU and ours, every time the
file is written, archived or read; for 64 KiB files that request, not the bytes, bounds
every rate (D51). So files smaller than ``S3Settings.pack_below`` are stored as
consecutive byte ranges of a **pack**, one object of about ``S3Settings.pack_bytes``,
in path order (the order archive-put writes them to tape, so that it reads a pack in a
few large ranges).

A packed file's cache copy is a **slice** of its pack (``pack_keys``). A pack's key is
the hash of its bytes, so a redelivered sub-batch makes the same pack under the same key
(found, not sent again), or, if a file changed in between, another pack, never new bytes
under a key a first report may already point into. Every reader resolves a key with
``slice_of``: a slice is read with a range request, and its checksums are those of its
file, checked as for any object.

Packs are immutable. The decider counts each pack's cached slices and removes a pack
when the last one goes (deleted, or evicted: eviction takes a pack's files together);
a pack is never removed by the key of one of its slices.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from domain.pack_keys import Slice, pack_key
from stores.checksums import Checksummer
from stores.failures import upload_failure
from stores.outcomes import NO_TALLY, Failure, Stored, Tally
from stores.s3.source_files import (
    CHANGED,
    Expected,
    Opener,
    SourceChanged,
    SourceFile,
    service_files,
)

__all__ = ["upload_packed"]

UPLOADS_IN_FLIGHT = 2  # packs sent while the next is read: bounds memory to ~3 packs
OPENED_AT_ONCE = 128  # files opened (by the user's worker) per round trip

# What ``upload_packed`` needs of the store: put these bytes (whose sha256 the server
# verifies) at this key with this metadata, returning the ETag; and the size of an object
# already at a key, or None.
PutBytes = Callable[[str, bytes, str, dict[str, str]], str]
SizeAt = Callable[[str], int | None]


@dataclass
class _Pack:
    data: bytearray
    members: list[tuple[int, int, Checksummer]]  # item index, offset, its checksums


def upload_packed(
    put: PutBytes,
    size_at: SizeAt,
    items: Sequence[tuple[bytes, Expected]],
    prefix: str,
    target_bytes: int,
    opener: Opener = service_files,
    tally: Tally = NO_TALLY,
) -> list[Stored | Failure]:
    """Read each (path, expected) file, opened by ``opener``, and store them in packs of
    about ``target_bytes`` under ``prefix``; each file's outcome, in order. A file that
    cannot be read fails alone; a pack the store refuses fails its files. Never raises
    for either. Each file counts in ``tally`` (by path) once its outcome is known."""
    results: list[Stored | Failure | None] = [None] * len(items)
    sent: list[tuple[_Pack, Future[str | Failure]]] = []
    with ThreadPoolExecutor(UPLOADS_IN_FLIGHT, "nearline-pack") as pool:

        def send(pack: _Pack) -> None:
            while len(sent) >= UPLOADS_IN_FLIGHT:  # bounded memory: settle the oldest
                _settle(*sent.pop(0), results, items, tally)
            sent.append((pack, pool.submit(_store_pack, put, size_at, prefix, bytes(pack.data))))

        pack = _Pack(bytearray(), [])
        for index, opened in _opened_in_order(items, opener):
            expected = items[index][1]
            if pack.members and len(pack.data) + expected.size > target_bytes:
                send(pack)
                pack = _Pack(bytearray(), [])
            try:
                data, sums = _read(opened, expected)
            except Exception as error:
                failure = results[index] = upload_failure(error)
                if not failure.retryable:
                    tally.done(items[index][0], expected.size)
                continue
            pack.members.append((index, len(pack.data), sums))
            pack.data += data
            tally.moved(items[index][0], len(data))  # its bytes count once read
        if pack.members:
            send(pack)
        for pack, future in sent:
            _settle(pack, future, results, items, tally)
    return [r if r is not None else Failure("not packed", True) for r in results]


def _opened_in_order(
    items: Sequence[tuple[bytes, Expected]], opener: Opener
) -> Iterator[tuple[int, int | OSError]]:
    """Each item's index and its opened descriptor (or the error), in path order; a few
    at a time, so that few descriptors are open at once."""
    order = sorted(range(len(items)), key=lambda i: items[i][0])
    for start in range(0, len(order), OPENED_AT_ONCE):
        chunk = order[start : start + OPENED_AT_ONCE]
        opened = opener([items[i][0] for i in chunk])
        try:
            for position, index in enumerate(chunk):
                handed, opened[position] = opened[position], OSError()  # SourceFile closes it
                yield index, handed
        finally:
            for leftover in opened:
                if isinstance(leftover, int):
                    os.close(leftover)


def _read(opened: int | OSError, expected: Expected) -> tuple[bytes, Checksummer]:
    if isinstance(opened, OSError):
        if opened.errno == errno.ELOOP:  # the path is now a symlink
            raise SourceChanged(CHANGED) from opened
        raise opened
    with SourceFile(opened, expected) as source:
        data = source.read(expected.size)
        source.check_unchanged()
    sums = Checksummer()
    sums.update(data)
    return data, sums


def _store_pack(put: PutBytes, size_at: SizeAt, prefix: str, data: bytes) -> str | Failure:
    """The pack's key once stored (or found stored already), or why it is not."""
    sha256 = hashlib.sha256(data).hexdigest()
    key = pack_key(prefix, sha256)
    try:
        # The key names the content: an object there of this size is this very pack.
        if size_at(key) != len(data):
            put(key, data, sha256, {"size": str(len(data)), "sha256": sha256})
    except Exception as error:
        return upload_failure(error)
    return key


def _settle(
    pack: _Pack,
    future: Future[str | Failure],
    results: list[Stored | Failure | None],
    items: Sequence[tuple[bytes, Expected]],
    tally: Tally,
) -> None:
    outcome = future.result()
    for index, offset, sums in pack.members:
        if not (isinstance(outcome, Failure) and outcome.retryable):
            tally.done(items[index][0], items[index][1].size)
        if isinstance(outcome, Failure):
            results[index] = outcome
        else:
            key = Slice(outcome, offset, sums.size).key
            results[index] = Stored(key, sums.size, sums.adler32, sums.sha256, "")
