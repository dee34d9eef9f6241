"""Members of tar aggregates read back from tape by offset, and put back in the S3 cache.

A member is read by byte range from its aggregate (``MemberCopy.offset`` and ``size``),
never the whole aggregate, and checked against the sha256 and adler32 recorded when it was
archived. A stream hands bytes on before the check can end, so ``read_member`` holds back
each member's last chunk until the whole member matched: a consumer never receives all of
a bad member, and gets ``MemberCorrupt`` instead of the end of the iterator. What it did
receive is provisional until then (as a download's partial file is until its rename).
``restore_members_to_cache`` completes an object only once its member matched.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Generator, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from contextlib import closing, suppress
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stores.checksums import Checksummer
from stores.failures import store_failure
from stores.outcomes import NO_TALLY, Tally
from stores.tape.aggregate import MemberCopy, MemberFailure, read_ahead
from stores.tape.cache_reading import CachedObjects, CacheFailure, head_objects
from stores.tape.endpoint import ByteRange, TapeEndpoint, TapeError

__all__ = [
    "TAPE_CORRUPT",
    "CacheRestore",
    "CacheUpload",
    "MemberCheck",
    "MemberCorrupt",
    "holds_copy",
    "member_ranges",
    "read_member",
    "restore_members_to_cache",
    "take",
]

log = logging.getLogger(__name__)

PART_SIZE = 8 * 1024 * 1024  # S3 multipart parts (5 MiB at least); smaller members go whole
PARTS_IN_FLIGHT = 4  # parts of one member sent at once, when a pool is given
TAPE_CORRUPT = "checksum mismatch: the copy on tape is corrupt"  # short: it ends up in events


class MemberCorrupt(Exception):
    """A member read from tape is not what was archived: its bytes must not be used."""


@dataclass(frozen=True)
class CacheRestore:
    """What ``restore_members_to_cache`` did, by file id."""

    restored: tuple[int, ...]  # now in the cache, verified (written, or found there already)
    failed: tuple[MemberFailure, ...]


class MemberCheck:
    """A member's bytes as they are read, compared with its copy's record at the end."""

    def __init__(self, aggregate_path: str, copy: MemberCopy) -> None:
        self._where = f"{aggregate_path}: member {copy.file_id} ({copy.path!r}) at {copy.offset}"
        self._copy = copy
        self._sums = Checksummer()

    def update(self, chunk: bytes) -> None:
        self._sums.update(chunk)

    def verify(self) -> None:
        copy, sums = self._copy, self._sums
        got = (sums.size, sums.sha256, sums.adler32)
        if got != (copy.size, copy.sha256, copy.adler32):
            raise MemberCorrupt(
                f"{self._where}: read {got[0]} bytes with sha256 {got[1]}, adler32 {got[2]}; "
                f"archived {copy.size} bytes with sha256 {copy.sha256}, adler32 {copy.adler32}"
            )


def read_member(tape: TapeEndpoint, aggregate_path: str, copy: MemberCopy) -> Iterator[bytes]:
    """A member's bytes, read by offset from its (online) aggregate; ``MemberCorrupt``
    instead of the last chunk if they are not the archived ones. Tape errors as they are."""
    check = MemberCheck(aggregate_path, copy)
    held: bytes | None = None
    ranges = member_ranges(tape, aggregate_path, [copy])
    with closing(ranges):
        for _, chunk in ranges:
            if held is not None:
                yield held
            check.update(chunk)
            held = chunk
    check.verify()
    if held is not None:
        yield held


def restore_members_to_cache(
    store: CachedObjects,
    tape: TapeEndpoint,
    aggregate_path: str,
    copies: Sequence[MemberCopy],
    object_keys: Mapping[int, str],
    *,
    part_size: int = PART_SIZE,
    tally: Tally = NO_TALLY,
) -> CacheRestore:
    """Put members of an (online) aggregate back into the S3 cache at ``object_keys[file_id]``,
    with the metadata ``ObjectStore`` records (``size``, ``adler32``, ``sha256``), so that
    later reads verify them as any cached object.

    The aggregate is opened once and only the members' ranges are read, in offset order;
    members whose object is already cached with the right checksums are not read at all.
    A corrupt member fails alone and leaves no object. Tape errors are raised as they are,
    store errors as ``CacheFailure``. Each member counts in ``tally`` (by file id) as its
    bytes move and once it is restored or failed.
    """
    keys = {copy.file_id: object_keys[copy.file_id] for copy in copies}
    if len(keys) != len(copies):
        raise ValueError("a file id appears twice among the copies")
    heads = head_objects(store, list(keys.values()))
    restored: list[int] = []
    failed: list[MemberFailure] = []
    wanted: list[MemberCopy] = []
    for copy in sorted(copies, key=lambda copy: copy.offset):
        head = heads[keys[copy.file_id]]
        if head is not None and holds_copy(head.size, head.metadata, copy):
            restored.append(copy.file_id)
            tally.done(copy.file_id, copy.size)
        else:
            wanted.append(copy)
    ranges = member_ranges(tape, aggregate_path, wanted)
    with closing(ranges):
        for copy in wanted:
            check = MemberCheck(aggregate_path, copy)
            upload = CacheUpload(store, keys[copy.file_id], copy, part_size)
            try:
                for chunk in take(ranges, copy.size, aggregate_path):
                    check.update(chunk)
                    upload.write(chunk)
                    tally.moved(copy.file_id, len(chunk))
                check.verify()
                upload.complete()
            except MemberCorrupt as error:
                upload.abort()
                log.error("not restored to the cache: %s", error)
                failed.append(MemberFailure(copy.file_id, TAPE_CORRUPT))
                tally.done(copy.file_id, copy.size)
                continue
            except BaseException:
                upload.abort()
                raise
            restored.append(copy.file_id)
            tally.done(copy.file_id, copy.size)
    return CacheRestore(tuple(restored), tuple(failed))


def holds_copy(size: int, metadata: Mapping[str, str], copy: MemberCopy) -> bool:
    """Whether a cached object is already this member's verified copy."""
    recorded = (size, metadata.get("sha256"), metadata.get("adler32"))
    return recorded == (copy.size, copy.sha256, copy.adler32)


def member_ranges(
    tape: TapeEndpoint,
    aggregate_path: str,
    copies: Sequence[MemberCopy],
    read_ahead_depth: int = 0,
) -> Generator[tuple[ByteRange, bytes]]:
    """The members' ranges of the aggregate, opened once; closing this closes the file.
    With ``read_ahead_depth``, read that many chunks ahead by a thread of its own."""
    ranges = tape.read_ranges(aggregate_path, [ByteRange(c.offset, c.size) for c in copies])
    if not read_ahead_depth:
        yield from ranges
        return
    # A thread reads the next chunks from the endpoint while this one checks and sends.
    yield from read_ahead(ranges, read_ahead_depth)


def take(
    ranges: Iterator[tuple[ByteRange, bytes]], length: int, aggregate_path: str
) -> Iterator[bytes]:
    """The next ``length`` bytes of a ``read_ranges`` stream (chunks never span ranges)."""
    taken = 0
    while taken < length:
        try:
            _, chunk = next(ranges)
        except StopIteration:
            raise TapeError(
                f"{aggregate_path}: the read ended {length - taken} bytes early"
            ) from None
        taken += len(chunk)
        yield chunk


class CacheUpload:
    """One member's object, written as the member is read: put whole when small, else
    sent in parts, up to ``PARTS_IN_FLIGHT`` at once on ``pool`` when one is given (the
    member's next bytes are read and checked meanwhile). It exists in the cache only
    after ``complete``."""

    def __init__(
        self,
        store: CachedObjects,
        key: str,
        copy: MemberCopy,
        part_size: int,
        pool: Executor | None = None,
    ) -> None:
        self._client = store.client
        self._target: dict[str, Any] = {"Bucket": store.bucket, "Key": key}
        self._copy = copy
        self._part_size = part_size
        self._metadata = {"size": str(copy.size), "adler32": copy.adler32, "sha256": copy.sha256}
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._pool = pool
        self._sending: list[Future[dict[str, Any]]] = []
        self._numbered = 0

    def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        if self._copy.size <= self._part_size:
            return  # put whole on completion: at most one part size held
        while len(self._buffer) >= self._part_size:
            self._send_part(bytes(self._buffer[: self._part_size]))
            del self._buffer[: self._part_size]

    def complete(self) -> None:
        try:
            if self._copy.size <= self._part_size:
                # The server checks the body against the sha256 it was archived with.
                sha256 = base64.b64encode(bytes.fromhex(self._copy.sha256)).decode()
                self._client.put_object(
                    **self._target,
                    Body=bytes(self._buffer),
                    Metadata=self._metadata,
                    ChecksumSHA256=sha256,
                )
                return
            if self._buffer:
                self._send_part(bytes(self._buffer))
                self._buffer.clear()
            while self._sending:
                self._parts.append(self._sending.pop(0).result())
            self._client.complete_multipart_upload(
                **self._target,
                UploadId=self._started(),
                MultipartUpload={"Parts": self._parts},  # type: ignore[typeddict-item]
            )
            self._upload_id = None
        except (BotoCoreError, ClientError) as error:
            failure = store_failure(error)
            raise CacheFailure(failure.reason, failure.retryable) from error

    def abort(self) -> None:
        """Drop the parts sent (best effort: the store's lifecycle rules catch the rest)."""
        for sending in self._sending:  # a part still being sent would outlive the abort
            with suppress(Exception):
                sending.result()
        self._sending.clear()
        if self._upload_id is not None:
            with suppress(BotoCoreError, ClientError):
                self._client.abort_multipart_upload(**self._target, UploadId=self._upload_id)
            self._upload_id = None

    def _started(self) -> str:
        if self._upload_id is None:
            try:
                answer = self._client.create_multipart_upload(
                    **self._target, Metadata=self._metadata, ChecksumAlgorithm="CRC32"
                )
            except (BotoCoreError, ClientError) as error:
                failure = store_failure(error)
                raise CacheFailure(failure.reason, failure.retryable) from error
            self._upload_id = answer["UploadId"]
        return self._upload_id

    def _send_part(self, data: bytes) -> None:
        self._numbered += 1
        upload_id, number = self._started(), self._numbered
        if self._pool is None:
            self._parts.append(self._upload_part(upload_id, number, data))
            return
        while len(self._sending) >= PARTS_IN_FLIGHT:  # bounded memory: settle the oldest
            self._parts.append(self._sending.pop(0).result())
        self._sending.append(self._pool.submit(self._upload_part, upload_id, number, data))

    def _upload_part(self, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        try:
            # CRC32 of the part, checked by the server: a part damaged on the way fails.
            answer = self._client.upload_part(
                **self._target,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                ChecksumAlgorithm="CRC32",
            )
        except (BotoCoreError, ClientError) as error:
            failure = store_failure(error)
            raise CacheFailure(failure.reason, failure.retryable) from error
        return {
            "PartNumber": number,
            "ETag": answer["ETag"],
            "ChecksumCRC32": answer["ChecksumCRC32"],
        }
