"""Tar aggregates: cached files streamed from the S3 cache into one tar file on tape.

Tape wants few, large files; holdings have many small ones. An aggregate is a plain POSIX
tar (pax) file of a holding's cached objects (``tar_format``), written to the tape endpoint
as it is built: headers, each object's bytes read from S3 in chunks (``cache_reading``),
padding, two zero blocks. Memory stays bounded whatever the members' sizes; each member's
sha256 is checked as its bytes pass (and its adler32: D223), and its **data offset** is
recorded so that a restore reads only its bytes (``members.read_member``).

What can go wrong, and what it costs:

- A member whose object is missing, has the wrong size or records another sha256 is found
  by its GET, before its header is written, and is left out: it fails alone. A missing
  pack fails its members alone.
- A member whose bytes turn out not to match its sha256 (or adler32) is found only once
  they are on their way to tape, where they cannot be taken back. The aggregate is still a
  valid tar and is written, but the member is reported failed and the aggregate's index
  omits it: its offset is never recorded as a good copy. A re-run makes the same bytes
  (reused); a re-run after the object was repaired would make other bytes under the same
  name, which the endpoint refuses (``TapeConflict``): failed members go into a later
  aggregate of their own, whose other members make another name.
- The store failing (unreachable, busy, or a stream cut mid-object) aborts the whole
  aggregate with a ``CacheFailure``; ``TapeEndpoint.write`` then removes the partial file.

An aggregate's tape path is a function of its holding and the members it was asked for
(``aggregate_name``), and its bytes a function of those members and their objects, so a
re-run writes the same file, which the endpoint reuses instead of writing it again. A
re-run after an object went missing would make other bytes under the same name, which the
endpoint refuses (``TapeConflict``); such members are then archived by a later sweep, in
an aggregate whose member set, and so name, differs.
"""

from __future__ import annotations

import itertools
import logging
import queue
import re
import threading
import zlib
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple, TypeVar, cast

from domain import aggregate_names as names
from stores.checksums import Checksummer, ContentCheck, adler32_concat
from stores.failures import CORRUPT
from stores.tape.cache_reading import (
    CachedObjects,
    CacheFailure,
    Fetched,
    WholeSums,
    fetch_in_order,
)
from stores.tape.errors import TapeChecksumMismatch
from stores.tape.tar_format import BLOCK, END_OF_ARCHIVE, file_headers, padded, padding

if TYPE_CHECKING:  # the XRootD client (about 8 MiB) only where a process uses the tape
    from stores.tape.endpoint import TapeEndpoint

__all__ = [
    "AggregateIndex",
    "AggregateStream",
    "Member",
    "MemberCopy",
    "MemberFailure",
    "UnsummedMember",
    "aggregate_name",
    "archive",
    "member_headers",
    "plan_aggregates",
    "stream_aggregate",
    "tar_footprint",
]

log = logging.getLogger(__name__)

_ADLER32 = re.compile("[0-9a-f]{8}")  # as the catalog records it
WRITE_SIZE = 8 * 1024 * 1024  # bytes per tape write: XRootD writes are round trips
READ_AHEAD = 2  # write-size chunks built ahead of the tape writes


@dataclass(frozen=True)
class Member:
    """A cataloged file to archive, with what was recorded when it was PUT."""

    file_id: int  # catalog id
    path: bytes  # the original path; its name in the tar is this without the leading "/"
    object_key: str
    size: int
    mode: int
    mtime_ns: int
    sha256: str
    adler32: str

    def __post_init__(self) -> None:
        name = self.name
        # Tar readers refuse or rewrite such names on extraction.
        if not name or b"\0" in name or name.endswith(b"/") or b".." in name.split(b"/"):
            raise ValueError(f"member {self.file_id}: cannot be named {self.path!r} in a tar")
        if self.size < 0:
            raise ValueError(f"member {self.file_id}: negative size {self.size}")

    @property
    def name(self) -> bytes:
        """The member's name inside the tar."""
        return self.path.lstrip(b"/")


@dataclass(frozen=True)
class MemberCopy:
    """A good copy of a member in an aggregate: its bytes are at ``offset`` of the tar."""

    file_id: int
    path: bytes
    offset: int
    size: int
    sha256: str
    adler32: str


class MemberFailure(NamedTuple):
    """A member left out of an aggregate's index, and why."""

    file_id: int
    reason: str


@dataclass(frozen=True)
class AggregateIndex:
    """An aggregate as written: where each good member's bytes are, and who failed.

    ``reused``: the endpoint already held this very file; nothing was written. With no
    member to archive, nothing is written at all: ``size`` is 0 and ``members`` empty.
    """

    name: str  # tape path, relative to the endpoint's root
    size: int
    adler32: str  # the whole tar's, as the tape endpoint reports it
    members: tuple[MemberCopy, ...]
    failed: tuple[MemberFailure, ...]
    reused: bool = False


# -- planning --------------------------------------------------------------------------


def plan_aggregates(members: Sequence[Member], target_bytes: int) -> list[list[Member]]:
    """Group members into aggregates of at most ``target_bytes`` of tar each, in path order
    (files of a folder are usually restored together); a member too large for the target
    goes alone. Deterministic: the same members give the same plan in any input order."""
    if target_bytes <= 0:
        raise ValueError(f"the target size must be positive, not {target_bytes}")
    plans: list[list[Member]] = []
    current: list[Member] = []
    filled = len(END_OF_ARCHIVE)
    for member in _in_tar_order(members):
        footprint = tar_footprint(member)
        if current and filled + footprint > target_bytes:
            plans.append(current)
            current, filled = [], len(END_OF_ARCHIVE)
        current.append(member)
        filled += footprint
    if current:
        plans.append(current)
    return plans


def tar_footprint(member: Member) -> int:
    """Bytes a member takes in a tar: headers, data and padding."""
    return len(member_headers(member)) + padded(member.size)


def aggregate_name(holding_id: int, members: Sequence[Member]) -> str:
    """The tape path of the aggregate of these members (``names.aggregate_name``)."""
    return names.aggregate_name(holding_id, (member.file_id for member in members))


def _in_tar_order(members: Sequence[Member]) -> list[Member]:
    ids = [member.file_id for member in members]
    if len(set(ids)) != len(ids):
        raise ValueError("a file id appears twice among the members")
    return sorted(members, key=lambda member: (member.path, member.file_id))


def member_headers(member: Member) -> bytes:
    """The header blocks of a member: a pax extended header when needed, then ustar."""
    return file_headers(
        member.name,
        mode=member.mode,
        size=member.size,
        mtime_ns=member.mtime_ns,
        serial=member.file_id,
    )


# -- streaming -------------------------------------------------------------------------


class UnsummedMember(Exception):
    """A streamed member turned out not to be its sha256's content, and its adler32 was
    not summed: the tar's adler32 cannot be known. ``archive`` writes it again, summing."""


def stream_aggregate(
    store: CachedObjects,
    members: Sequence[Member],
    *,
    holding_id: int,
    write_size: int = WRITE_SIZE,
    catalog_adler32: bool = True,
) -> AggregateStream:
    """The stream of the tar of ``members``, in path order, named after all of them. A
    member whose object cannot be its content is found when it is read, and left out.
    ``catalog_adler32``: see ``AggregateStream``."""
    ordered = _in_tar_order(members)
    name = aggregate_name(holding_id, ordered)
    return AggregateStream(
        store, name, ordered, [], write_size=write_size, catalog_adler32=catalog_adler32
    )


class AggregateStream:
    """The tar of ``members``, produced on the fly by ``chunks()`` (once); ``result()``
    after the last chunk.

    ``catalog_adler32``: a member is checked by its sha256 alone, and its catalog
    adler32 goes into the tar's (D223); a streamed member found bad then raises
    ``UnsummedMember``. Else every member's adler32 is summed and compared too."""

    def __init__(
        self,
        store: CachedObjects,
        name: str,
        members: Sequence[Member],
        failed: Sequence[MemberFailure],
        *,
        write_size: int = WRITE_SIZE,
        catalog_adler32: bool = True,
    ) -> None:
        if write_size < BLOCK:
            raise ValueError(f"write size below a block: {write_size}")
        self.name = name
        self.members = tuple(members)
        self._store = store
        self._write_size = write_size
        self._catalog_adler32 = catalog_adler32
        self._failed = list(failed)
        self._copies: list[MemberCopy] = []
        self._size = 0  # of the tar produced so far, and its adler32
        self._adler32 = zlib.adler32(b"")
        self._started = False
        self._finished = False
        self.included = 0  # members whose headers went out so far

    def chunks(self) -> Iterator[bytes]:
        """The tar's bytes, in chunks of about ``write_size`` built ahead in a thread
        (reading S3 overlaps writing to tape). Raises ``CacheFailure`` when the aggregate
        cannot be completed."""
        if self._started:
            raise RuntimeError(f"{self.name}: an aggregate stream is read once")
        self._started = True
        return self._until_the_end(read_ahead(self._produce(), READ_AHEAD))

    def result(self) -> AggregateIndex:
        """The aggregate's index; only once ``chunks()`` ran to the end."""
        if not self._finished:
            raise RuntimeError(f"{self.name}: the stream was not read to its end")
        return AggregateIndex(
            name=self.name,
            size=self._size,
            adler32=f"{self._adler32:08x}",
            members=tuple(self._copies),
            failed=tuple(self._failed),
        )

    @property
    def failed(self) -> tuple[MemberFailure, ...]:
        """The members failed so far: all of them once the stream has ended."""
        return tuple(self._failed)

    def _produce(self) -> Iterator[bytes]:
        # Pieces are gathered and joined once per write: one copy of every byte.
        pending: list[bytes | memoryview] = []
        held = 0
        objects = fetch_in_order(self._store, self.members)
        try:
            for member in self.members:
                fetched = next(objects)
                if fetched.failure is not None:
                    self._failed.append(MemberFailure(member.file_id, fetched.failure))
                    continue
                self.included += 1
                try:
                    for piece in self._member_pieces(member, fetched):
                        pending.append(piece)
                        held += len(piece)
                        if held >= self._write_size:
                            yield b"".join(pending)
                            pending.clear()
                            held = 0
                finally:
                    fetched.close()
        finally:
            objects.close()  # stops the prefetching at once when the stream fails
        pending.append(self._counted(END_OF_ARCHIVE))
        yield b"".join(pending)

    def _until_the_end(self, chunks: Generator[bytes]) -> Iterator[bytes]:
        with closing(chunks):  # a consumer that stops early stops the producer at once
            yield from chunks
        self._finished = True  # every byte was handed out

    def _counted(self, data: bytes) -> bytes:
        """Headers and padding, added to the tar's size and adler32 as they go out."""
        self._size += len(data)
        self._adler32 = zlib.adler32(data, self._adler32)
        return data

    def _member_pieces(self, member: Member, fetched: Fetched) -> Iterator[bytes | memoryview]:
        """Headers, data and padding of one member; records its copy or its failure."""
        yield self._counted(member_headers(member))
        offset = self._size
        trusted = self._catalog_adler32 and _ADLER32.fullmatch(member.adler32) is not None
        sums: Checksummer | WholeSums
        streaming: Checksummer | None = None  # an object read whole was hashed already
        if fetched.sums is not None:
            sums = fetched.sums
        else:  # ContentCheck: the sha256 only
            sums = streaming = ContentCheck() if trusted else Checksummer()
        for piece in fetched.pieces():
            if streaming is not None:
                streaming.update(piece)
            if sums.size > member.size:
                raise CacheFailure(
                    f"member {member.file_id}: its object grew while it was read", True
                )
            yield piece
        if sums.size != member.size:  # botocore checks Content-Length: a store fault
            raise CacheFailure(f"member {member.file_id}: its object ended early", True)
        good = sums.sha256 == member.sha256
        if good and not trusted:
            good = sums.adler32 == member.adler32
        if not good and not sums.adler32:  # streamed, its bytes gone: the tar's is unknown
            raise UnsummedMember(f"member {member.file_id}: other bytes than its sha256's")
        # Bytes of the sha256 the catalog holds have its adler32 (D223); other bytes are
        # summed (an object read whole only now). The tar's follows without summing again.
        adler32 = member.adler32 if good else sums.adler32
        self._adler32 = adler32_concat(self._adler32, int(adler32, 16), sums.size)
        self._size += sums.size
        yield self._counted(padding(member.size))
        if not good:
            self._failed.append(MemberFailure(member.file_id, CORRUPT))
            return
        self._copies.append(
            MemberCopy(member.file_id, member.path, offset, member.size, sums.sha256, adler32)
        )


_DONE = object()
T = TypeVar("T")


def read_ahead(produce: Iterator[T], depth: int) -> Generator[T]:
    """``produce``'s items, made by a thread up to ``depth`` items ahead of the consumer.
    Its exceptions are raised to the consumer; a consumer that stops early stops it."""
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        outcome: object = _DONE
        try:
            for item in produce:
                if not hand(item):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            outcome = error
        finally:
            close = getattr(produce, "close", None)
            if close is not None:
                close()  # in this thread, which ran it: releases open S3 bodies
        hand(outcome)

    worker = threading.Thread(target=run, name="nearline-aggregate", daemon=True)
    worker.start()
    try:
        while (item := items.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield cast(T, item)
    finally:
        stop.set()
        worker.join()


# -- archiving -------------------------------------------------------------------------


def archive(
    store: CachedObjects, tape: TapeEndpoint, holding_id: int, members: Sequence[Member]
) -> AggregateIndex:
    """Write the aggregate of ``members`` to tape; return its index.

    Members that cannot be archived are in the index's ``failed``; when none is left,
    nothing is written. Tape errors are raised as they are (``TapeUnavailable`` is worth
    retrying, ``TapeError`` is not), like a ``CacheFailure``; nothing is left on tape then.

    The tar's adler32 is made of the catalog's adler32 of each member whose sha256 matched
    (D223). Should the server's differ (the catalog holding an adler32 that is not its
    sha256's content's, or bytes damaged on the way), or a streamed member prove bad
    (``UnsummedMember``), the tar is written again with every member's adler32 summed and
    compared, so that only such a member fails.
    """
    try:
        return _archive(store, tape, holding_id, members, catalog_adler32=True)
    except (TapeChecksumMismatch, UnsummedMember) as error:
        log.warning("%s; writing it again with every member's adler32 summed", error)
        return _archive(store, tape, holding_id, members, catalog_adler32=False)


def _archive(
    store: CachedObjects,
    tape: TapeEndpoint,
    holding_id: int,
    members: Sequence[Member],
    *,
    catalog_adler32: bool,
) -> AggregateIndex:
    stream = stream_aggregate(
        store, members, holding_id=holding_id, catalog_adler32=catalog_adler32
    )
    chunks = stream.chunks()
    first = next(chunks)  # the first write-size chunk, or the whole tar if smaller
    if stream.included == 0:  # every member failed: the chunk is the end of the archive
        for _ in chunks:
            pass
        return AggregateIndex(stream.name, 0, "00000001", (), stream.failed)
    # The endpoint compares the server's adler32 with the index's, known once the last
    # chunk is out: the tape then holds exactly the bytes the index describes.
    written = tape.write(
        stream.name, itertools.chain([first], chunks), expected=lambda: stream.result().adler32
    )
    index = stream.result()
    if (written.size, written.adler32) != (index.size, index.adler32):
        raise TapeChecksumMismatch(
            f"{stream.name}: {written.size} bytes with adler32 {written.adler32} went to "
            f"tape, but the aggregate has {index.size} bytes with adler32 {index.adler32}"
        )
    return replace(index, reused=written.reused)
