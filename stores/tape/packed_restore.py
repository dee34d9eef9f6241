"""Members of an aggregate put back into the S3 cache as a PUT stores files (D90, D180):
the small ones together in packs, one PUT per pack, the others as objects of their own.

Nothing is asked of the cache first: the recall request says which members are wanted,
and the worker knows which it put back already (``processors.archive_get``). A member is
checked against its archived sha256 and adler32 before it joins a pack (or before its own
object is completed), so a pack holds only verified bytes and a corrupt member fails
alone. A pack's key is the hash of its bytes under the given prefix, so a redelivered
request makes the same pack under the same key. A packed member's cache copy is its slice
key; the decider counts and removes the pack as any other (D90).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from domain.pack_keys import Slice, pack_key
from stores.failures import store_failure
from stores.outcomes import NO_TALLY, Tally
from stores.tape.aggregate import MemberCopy, MemberFailure
from stores.tape.cache_reading import CachedObjects, CacheFailure
from stores.tape.endpoint import TapeEndpoint
from stores.tape.members import (
    PART_SIZE,
    PARTS_IN_FLIGHT,
    TAPE_CORRUPT,
    CacheUpload,
    MemberCheck,
    MemberCorrupt,
    member_ranges,
    take,
)

__all__ = ["PackedRestore", "Packing", "restore_packed"]

log = logging.getLogger(__name__)

PACKS_IN_FLIGHT = 2  # packs being sent while the next fills: bounds memory to ~3 packs
READ_AHEAD = 4  # chunks (of the endpoint's chunk size) read while the last ones are checked


@dataclass(frozen=True)
class Packing:
    """Members of 1 byte up to below ``below`` go into packs of about ``target`` bytes
    under ``prefix`` (ending in ``/``); ``below`` 0 stores every member alone."""

    prefix: str
    below: int
    target: int


@dataclass(frozen=True)
class PackedRestore:
    """What ``restore_packed`` did: each restored member's cache key, the failed ones."""

    keys: dict[int, str]
    failed: tuple[MemberFailure, ...]


@dataclass
class _Pack:
    data: bytearray = field(default_factory=bytearray)
    members: list[tuple[MemberCopy, int]] = field(default_factory=list)  # copy, offset


def restore_packed(
    store: CachedObjects,
    tape: TapeEndpoint,
    aggregate_path: str,
    copies: Sequence[MemberCopy],
    object_keys: Mapping[int, str],
    packing: Packing,
    *,
    part_size: int = PART_SIZE,
    tally: Tally = NO_TALLY,
) -> PackedRestore:
    """Read ``copies`` from the (online) aggregate, opened once, in offset order, and put
    them into the cache: small ones in packs, the others at ``object_keys[file_id]``.
    Tape errors are raised as they are, store errors as ``CacheFailure`` (nothing is
    reported then); a corrupt member fails alone. Each member counts in ``tally`` (by
    file id) as its bytes move and once it is restored or failed."""
    ordered = sorted(copies, key=lambda copy: copy.offset)
    if len({copy.file_id for copy in ordered}) != len(ordered):
        raise ValueError("a file id appears twice among the copies")
    keys: dict[int, str] = {}
    failed: list[MemberFailure] = []
    sent: list[tuple[_Pack, Future[str]]] = []
    ranges = member_ranges(tape, aggregate_path, ordered, READ_AHEAD)
    with (
        ThreadPoolExecutor(PACKS_IN_FLIGHT, "nearline-recall-pack") as pool,
        ThreadPoolExecutor(PARTS_IN_FLIGHT, "nearline-recall-part") as parts,
        closing(ranges),
    ):

        def send(pack: _Pack) -> None:
            while len(sent) >= PACKS_IN_FLIGHT:  # bounded memory: settle the oldest
                _settle(*sent.pop(0), keys, tally)
            sent.append((pack, pool.submit(_put_pack, store, packing.prefix, bytes(pack.data))))

        pack = _Pack()
        for copy in ordered:
            check = MemberCheck(aggregate_path, copy)
            key = object_keys[copy.file_id]
            packed = 0 < copy.size < packing.below
            upload = None if packed else CacheUpload(store, key, copy, part_size, parts)
            held = bytearray()
            try:
                for chunk in take(ranges, copy.size, aggregate_path):
                    check.update(chunk)
                    if upload is None:
                        held += chunk
                    else:
                        upload.write(chunk)
                    tally.moved(copy.file_id, len(chunk))
                check.verify()
            except MemberCorrupt as error:
                if upload is not None:
                    upload.abort()
                log.error("not restored to the cache: %s", error)
                failed.append(MemberFailure(copy.file_id, TAPE_CORRUPT))
                tally.done(copy.file_id, copy.size)
                continue
            except BaseException:
                if upload is not None:
                    upload.abort()
                raise
            if upload is not None:
                upload.complete()
                keys[copy.file_id] = key
                tally.done(copy.file_id, copy.size)
                continue
            if pack.members and len(pack.data) + copy.size > packing.target:
                send(pack)
                pack = _Pack()
            pack.members.append((copy, len(pack.data)))
            pack.data += held
        if pack.members:
            send(pack)
        for pack, future in sent:
            _settle(pack, future, keys, tally)
    return PackedRestore(keys, tuple(failed))


def _put_pack(store: CachedObjects, prefix: str, data: bytes) -> str:
    """Store a pack (the server checks its sha256) under its content's key; the key. No
    HEAD first: the key names the bytes, so an object already there is this pack."""
    sha256 = hashlib.sha256(data).hexdigest()
    key = pack_key(prefix, sha256)
    metadata = {"size": str(len(data)), "sha256": sha256}
    put_bytes = getattr(store, "put_bytes", None)
    try:
        if put_bytes is not None:
            put_bytes(key, data, sha256, metadata)
        else:
            checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
            store.client.put_object(
                Bucket=store.bucket, Key=key, Body=data, Metadata=metadata, ChecksumSHA256=checksum
            )
    except (BotoCoreError, ClientError) as error:
        failure = store_failure(error)
        raise CacheFailure(failure.reason, failure.retryable) from error
    return key


def _settle(pack: _Pack, future: Future[str], keys: dict[int, str], tally: Tally) -> None:
    key = future.result()  # a store failure fails the whole restore: raised from here
    for copy, offset in pack.members:
        keys[copy.file_id] = Slice(key, offset, copy.size).key
        tally.done(copy.file_id, copy.size)
