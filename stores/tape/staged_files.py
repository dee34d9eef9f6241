"""Writing a GET's files straight from their staged aggregate (D231): what restoring needs
of a copy (``processors.transfer_get.restore.Filler``), read by offset over XRootD.

A file's key names its member's place in the aggregate, ``{aggregate}#{offset}+{size}``
(``Slice(aggregate, offset, size).key``), as a pack slice names its place in a pack.
Each file is checked against its own sha256 as it is written, as a download from the
cache is: the aggregate's bytes are trusted no more than the cache's.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Generator, Iterable, Sequence

from domain.pack_keys import Slice
from stores.checksums import ContentCheck
from stores.failures import download_failure
from stores.outcomes import Failure, Stored
from stores.s3.object_store import RunTarget
from stores.s3.verified_files import ContentMismatch, fill_verified
from stores.tape.aggregate import read_ahead
from stores.tape.endpoint import ByteRange, TapeEndpoint
from stores.tape.errors import TapeFailure, TapeOffline, TapeUnavailable
from stores.tape.members import TAPE_CORRUPT

__all__ = ["StagedAggregate", "tape_failure"]

THREADED_FROM = 16 * 1024 * 1024  # a member this large is read ahead and hashed in threads
READ_AHEAD = 2  # chunks of a large member read while the one before is written

_PLACE = re.compile(r"#(0|[1-9][0-9]*)\+(0|[1-9][0-9]*)")  # an empty member has size 0


def tape_failure(error: TapeFailure) -> Failure:
    """Why reading a member failed, naming neither the endpoint nor the path."""
    if isinstance(error, TapeUnavailable):
        return Failure("tape endpoint unreachable", True)
    if isinstance(error, TapeOffline):
        return Failure("the aggregate is no longer online", True)
    return Failure(f"reading the aggregate failed ({type(error).__name__})", False)


class StagedAggregate:
    """The members of one online aggregate, written into open files made by the
    requester's worker, each verified; the caller syncs them (``durable=False``) or not."""

    def __init__(self, tape: TapeEndpoint, aggregate: str) -> None:
        self.tape = tape
        self.aggregate = aggregate

    def slice_of(self, key: str) -> Slice | None:
        """The place a member key names in this aggregate; ``None`` for any other key."""
        if not key.startswith(self.aggregate):
            return None
        place = _PLACE.fullmatch(key, len(self.aggregate))
        if place is None:
            return None
        return Slice(self.aggregate, int(place.group(1)), int(place.group(2)))

    def download_into(
        self, key: str, fd: int, expected_sha256: str, expected_size: int, durable: bool = True
    ) -> Stored | Failure:
        part = self.slice_of(key)
        if part is None or part.size != expected_size:
            return Failure("not a member of the staged aggregate", False)
        target = RunTarget(part, fd, expected_sha256)
        return self.download_run_into(self.aggregate, [target], durable)[0]

    def download_run_into(
        self, pack: str, into: Sequence[RunTarget], durable: bool = True
    ) -> list[Stored | Failure]:
        """Write members of the aggregate into their open, empty files: a run of small
        ones read as one range and split, a large one streamed."""
        if pack != self.aggregate or not into:
            return [Failure("not a member of the staged aggregate", False) for _ in into]
        if any(not stat.S_ISREG(os.fstat(t.fd).st_mode) for t in into):
            return [Failure("the restore was not given a regular file to write", False)] * len(into)
        if len(into) == 1:
            return [self._stream(into[0], durable)]
        first = min(t.slice.offset for t in into)
        last = max(t.slice.last for t in into)
        try:
            data = self.tape.read_range(self.aggregate, first, last - first + 1)
        except TapeFailure as error:
            return [tape_failure(error)] * len(into)
        return [
            self._fill([data[t.slice.offset - first : t.slice.last - first + 1]], t, durable)
            for t in into
        ]

    def _stream(self, target: RunTarget, durable: bool) -> Stored | Failure:
        part = target.slice
        large = part.size >= THREADED_FROM
        ranges = self._chunks(part, large)
        try:
            return self._fill(ranges, target, durable, threaded=large)
        except TapeFailure as error:
            return tape_failure(error)
        finally:
            ranges.close()  # the aggregate's handle is closed also after a refusal

    def _chunks(self, part: Slice, ahead: bool) -> Generator[bytes]:
        ranges = self.tape.read_ranges(self.aggregate, [ByteRange(part.offset, part.size)])
        read = read_ahead(ranges, READ_AHEAD) if ahead else ranges
        try:
            for _, chunk in read:
                yield chunk
        finally:
            for stream in (read, ranges):
                close = getattr(stream, "close", None)
                if close is not None:
                    close()

    def _fill(
        self,
        chunks: Iterable[bytes],
        target: RunTarget,
        durable: bool,
        threaded: bool = False,
    ) -> Stored | Failure:
        part = target.slice
        try:
            checksums = fill_verified(
                chunks,
                target.fd,
                target.sha256,
                part.size,
                durable,
                ContentCheck(threaded=threaded),
            )
        except ContentMismatch:
            return Failure(TAPE_CORRUPT, False)
        except OSError as error:
            return download_failure(error)
        return Stored(part.key, checksums.size, "", checksums.sha256, "")
