"""Tar aggregates: cached files streamed from the S3 cache into one tar file on tape.

Tape wants few, large files; holdings have many small ones. An aggregate is a plain POSIX
tar (pax) file of a holding's cached objects, written to the tape endpoint as it is built:
headers, each object's bytes read from S3 in chunks, padding, two zero blocks. Memory stays
bounded whatever the members' sizes; each member's sha256 and adler32 are checked as its
bytes pass, and each member's **data offset** is recorded so that a restore reads only its
bytes (``members.read_member``).

Member names are the original paths without their leading ``/``. A name that a ustar
header cannot hold exactly (longer than 100 bytes, or any byte outside printable ASCII:
newlines, UTF-8, other encodings) goes in a pax extended header (``x``) as a ``path``
record, with the ustar name field holding a printable, truncated fallback for readers that
know no pax. POSIX.1-2001 wants ``path`` values in UTF-8, which cannot represent a name
that is not valid UTF-8; POSIX.1-2008 added the ``hdrcharset=BINARY`` record for exactly
that: the values are then the raw bytes. So a valid UTF-8 name is stored as it is, and any
other name as raw bytes after ``hdrcharset=BINARY`` (what Python's ``tarfile`` writes for
such names too). Python's ``tarfile`` honours it, as do libarchive (bsdtar) and star by
their sources; GNU tar (1.34) says "Ignoring unknown extended header keyword 'hdrcharset'"
but lists and extracts the exact bytes, as it never converts ``path`` values
(``--warning=no-unknown-keyword`` quiets it). Sizes and mtimes beyond the ustar fields
(8 GiB, 1970..2242) also go in pax records. Headers carry the mode and the mtime in whole
seconds (the catalog keeps the nanoseconds); uid and gid are 0, as ownership is the
catalog's business too.

What can go wrong, and what it costs:

- A member whose object is missing, has the wrong size or records another sha256 is found
  by its GET, before its header is written, and is left out: it fails alone. There is no
  HEAD before: one request per member (small objects are read whole, several at a time,
  ahead of the writing), because a request's latency, not its bytes, bounds small members.
  Members stored as slices of a pack (D90) are read a run at a time, one range request
  for up to ``RUN_BYTES`` of consecutive slices; a missing pack fails its members alone.
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
import queue
import threading
import zlib
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

from botocore.exceptions import BotoCoreError, ClientError

from domain import aggregate_names as names
from domain.pack_keys import Slice, slice_of
from stores.checksums import Checksummer
from stores.failures import CORRUPT, NOT_IN_STORE, is_missing, store_failure
from stores.s3.direct_s3 import ObjectHead
from stores.tape.endpoint import TapeChecksumMismatch, TapeEndpoint

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "AggregateIndex",
    "AggregateStream",
    "CacheFailure",
    "CachedObjects",
    "Member",
    "MemberCopy",
    "MemberFailure",
    "adler32_concat",
    "aggregate_name",
    "archive",
    "head_objects",
    "member_headers",
    "plan_aggregates",
    "stream_aggregate",
    "tar_footprint",
]

BLOCK = 512
END_OF_ARCHIVE = bytes(2 * BLOCK)
WRITE_SIZE = 8 * 1024 * 1024  # bytes per tape write: XRootD writes are round trips
READ_SIZE = 1024 * 1024  # bytes per S3 body read
SMALL_OBJECT = 1024 * 1024  # objects up to this size are fetched whole, ahead, in parallel
PREFETCH_DEPTH = 128  # small objects fetched ahead: at most 128 MiB held
PREFETCH_WORKERS = 32  # GETs in flight: their latency, not their bytes, bounds small members
HEAD_WORKERS = 8  # HEADs in flight: latency-bound against a remote store
READ_AHEAD = 2  # write-size chunks built ahead of the tape writes
RUN_BYTES = 4 * 1024 * 1024  # consecutive slices of a pack read in one range request
RUN_GAP = 64 * 1024  # bytes of other slices (deleted files) read over rather than around
SHORT_PACK = "the cached pack is shorter than the catalog says"

_USTAR_NAME = 100
_MAX_OCTAL_11 = 8**11  # size and mtime fields: 11 octal digits
_PRINTABLE = bytes(range(0x20, 0x7F))
_ADLER_MODULUS = 65521


class CachedObjects(Protocol):
    """What aggregates need of the S3 cache: ``ObjectStore`` (or a fake of it)."""

    bucket: str
    client: S3Client


class CacheFailure(Exception):
    """The S3 cache could not be read for the aggregate as a whole: nothing was archived.

    ``retryable`` when trying again later may succeed (the store was unreachable or busy,
    or an object changed while it was being archived: the next attempt sees its new state).
    """

    def __init__(self, reason: str, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


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
    return len(member_headers(member)) + _padded(member.size)


def aggregate_name(holding_id: int, members: Sequence[Member]) -> str:
    """The tape path of the aggregate of these members (``names.aggregate_name``)."""
    return names.aggregate_name(holding_id, (member.file_id for member in members))


def _in_tar_order(members: Sequence[Member]) -> list[Member]:
    ids = [member.file_id for member in members]
    if len(set(ids)) != len(ids):
        raise ValueError("a file id appears twice among the members")
    return sorted(members, key=lambda member: (member.path, member.file_id))


# -- tar headers -----------------------------------------------------------------------


def member_headers(member: Member) -> bytes:
    """The header blocks of a member: a pax extended header when needed, then ustar."""
    name = member.name
    records: list[bytes] = []
    if len(name) > _USTAR_NAME or name.translate(None, _PRINTABLE):
        if not _is_utf8(name):
            records.append(_pax_record(b"hdrcharset", b"BINARY"))
        records.append(_pax_record(b"path", name))
        name = name.translate(_FALLBACK)[:_USTAR_NAME]
    size = member.size
    if size >= _MAX_OCTAL_11:
        records.append(_pax_record(b"size", b"%d" % size))
        size = 0
    mtime = member.mtime_ns // 1_000_000_000
    if not 0 <= mtime < _MAX_OCTAL_11:
        records.append(_pax_record(b"mtime", b"%d" % mtime))
        mtime = 0
    header = _ustar(name, member.mode & 0o7777, size, mtime, b"0")
    if not records:
        return header
    extended = b"".join(records)
    pax_name = b"PaxHeaders/%d" % member.file_id
    pax = _ustar(pax_name, 0o644, len(extended), mtime, b"x")
    return pax + _with_padding(extended) + header


def _ustar(name: bytes, mode: int, size: int, mtime: int, typeflag: bytes) -> bytes:
    header = bytearray(BLOCK)
    header[0 : len(name)] = name
    header[100:108] = _octal(mode, 8)
    header[108:116] = _octal(0, 8)  # uid
    header[116:124] = _octal(0, 8)  # gid
    header[124:136] = _octal(size, 12)
    header[136:148] = _octal(mtime, 12)
    header[148:156] = b" " * 8  # the checksum counts its own field as spaces
    header[156:157] = typeflag
    header[257:265] = b"ustar\x0000"
    header[329:337] = _octal(0, 8)  # devmajor
    header[337:345] = _octal(0, 8)  # devminor
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def _pax_record(keyword: bytes, value: bytes) -> bytes:
    """``"<length> <keyword>=<value>\\n"``, where the length counts its own digits."""
    rest = b" " + keyword + b"=" + value + b"\n"
    length = len(rest)
    while len(rest) + len(str(length)) != length:
        length = len(rest) + len(str(length))
    return b"%d" % length + rest


def _is_utf8(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Printable ASCII stays, every other byte becomes "_" in the ustar fallback name.
_FALLBACK = bytes(b if 0x20 <= b < 0x7F else ord("_") for b in range(256))


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _with_padding(data: bytes) -> bytes:
    return data + bytes(_padded(len(data)) - len(data))


# -- checking the cache ----------------------------------------------------------------


def head_objects(store: CachedObjects, keys: Sequence[str]) -> dict[str, ObjectHead | None]:
    """HEAD each key, in parallel: ``None`` for a missing object. Any other store error
    raises ``CacheFailure``."""

    def head(key: str) -> ObjectHead | None:
        try:
            answer = store.client.head_object(Bucket=store.bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                return None
            raise _cache_failure(error) from error
        except BotoCoreError as error:
            raise _cache_failure(error) from error
        etag = answer.get("ETag", "").strip('"')
        return ObjectHead(answer["ContentLength"], etag, dict(answer.get("Metadata", {})))

    unique = list(dict.fromkeys(keys))
    if len(unique) <= 1:
        return {key: head(key) for key in unique}
    with ThreadPoolExecutor(min(HEAD_WORKERS, len(unique)), "nearline-head") as pool:
        return dict(zip(unique, pool.map(head, unique), strict=True))


def _mismatch(member: Member, head: ObjectHead | None) -> str | None:
    """Why the cached object cannot be this member's content, or None if it may be."""
    if head is None:
        return NOT_IN_STORE
    if head.size != member.size:
        return f"the cached object has {head.size} bytes, not {member.size}"
    # An object whose checksums were never recorded (an interrupted multipart upload) may
    # still be right: its bytes are checked as they stream.
    recorded = head.metadata
    if recorded.get("sha256", member.sha256) != member.sha256:
        return "the cached object records another sha256 than the catalog"
    if recorded.get("adler32", member.adler32) != member.adler32:
        return "the cached object records another adler32 than the catalog"
    return None


def _cache_failure(error: BotoCoreError | ClientError) -> CacheFailure:
    failure = store_failure(error)
    return CacheFailure(failure.reason, failure.retryable)


# -- streaming -------------------------------------------------------------------------


def stream_aggregate(
    store: CachedObjects,
    members: Sequence[Member],
    *,
    holding_id: int,
    write_size: int = WRITE_SIZE,
) -> AggregateStream:
    """The stream of the tar of ``members``, in path order, named after all of them. A
    member whose object cannot be its content is found when it is read, and left out."""
    ordered = _in_tar_order(members)
    name = aggregate_name(holding_id, ordered)
    return AggregateStream(store, name, ordered, [], write_size=write_size)


class AggregateStream:
    """The tar of ``members``, produced on the fly by ``chunks()`` (once); ``result()``
    after the last chunk."""

    def __init__(
        self,
        store: CachedObjects,
        name: str,
        members: Sequence[Member],
        failed: Sequence[MemberFailure],
        *,
        write_size: int = WRITE_SIZE,
    ) -> None:
        if write_size < BLOCK:
            raise ValueError(f"write size below a block: {write_size}")
        self.name = name
        self.members = tuple(members)
        self._store = store
        self._write_size = write_size
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
        return self._until_the_end(_read_ahead(self._produce(), READ_AHEAD))

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
        objects = _fetched(self._store, self.members)
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

    def _member_pieces(self, member: Member, fetched: _Fetched) -> Iterator[bytes | memoryview]:
        """Headers, data and padding of one member; records its copy or its failure."""
        yield self._counted(member_headers(member))
        offset = self._size
        summed = fetched.sums
        sums = summed if summed is not None else Checksummer()
        for piece in fetched.pieces():
            if summed is None:
                sums.update(piece)
            if sums.size > member.size:
                raise CacheFailure(
                    f"member {member.file_id}: its object grew while it was read", True
                )
            yield piece
        if sums.size != member.size:  # botocore checks Content-Length: a store fault
            raise CacheFailure(f"member {member.file_id}: its object ended early", True)
        # The data's adler32 is known: the tar's follows without summing the bytes again.
        self._adler32 = adler32_concat(self._adler32, int(sums.adler32, 16), sums.size)
        self._size += sums.size
        yield self._counted(bytes(_padded(member.size) - member.size))
        if (sums.sha256, sums.adler32) != (member.sha256, member.adler32):
            self._failed.append(MemberFailure(member.file_id, CORRUPT))
            return
        self._copies.append(
            MemberCopy(member.file_id, member.path, offset, member.size, sums.sha256, sums.adler32)
        )


def adler32_concat(first: int, second: int, second_size: int) -> int:
    """The adler32 of two byte strings one after the other, from theirs.

    Adler-32 is (B << 16) | A, where A is 1 plus the sum of the bytes and B the sum of A
    after each byte, both modulo 65521. Following ``first``, each of the ``second_size``
    values of A that ``second`` adds is larger by ``first``'s A minus 1; B sums them.
    """
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % _ADLER_MODULUS
    b = (b1 + b2 + second_size * (a1 - 1)) % _ADLER_MODULUS
    return (b << 16) | a


# -- reading objects -------------------------------------------------------------------


class _Fetched:
    """One member's object, opened (a streaming GET) or, when small, already read."""

    def __init__(
        self, body: Any = None, data: bytes | memoryview | None = None, failure: str | None = None
    ) -> None:
        self._body = body
        self._data = data
        self.failure = failure  # why the object cannot be the member's content
        # Whole data is summed where it was read, in a prefetching thread: hashlib and
        # zlib release the GIL, so members are summed on several cores at once.
        self.sums: Checksummer | None = None
        if data is not None:
            self.sums = Checksummer()
            self.sums.update(data)

    def pieces(self) -> Iterator[bytes | memoryview]:
        if self._data is not None:
            if self._data:
                yield self._data
            return
        try:
            yield from self._body.iter_chunks(READ_SIZE)
        except (BotoCoreError, ClientError) as error:
            raise _cache_failure(error) from error

    def close(self) -> None:
        if self._body is not None:
            self._body.close()


def _open(store: CachedObjects, member: Member) -> _Fetched:
    """GET the member's object, streaming; a failure if it cannot be the member's."""
    part = slice_of(member.object_key)
    try:
        if part is None:
            response = store.client.get_object(Bucket=store.bucket, Key=member.object_key)
        else:  # a slice: the pack's metadata is not the member's
            response = store.client.get_object(
                Bucket=store.bucket, Key=part.pack, Range=f"bytes={part.offset}-{part.last}"
            )
    except ClientError as error:
        if is_missing(error):
            return _Fetched(failure=NOT_IN_STORE)
        raise _cache_failure(error) from error
    except BotoCoreError as error:
        raise _cache_failure(error) from error
    body = response["Body"]
    metadata = dict(response.get("Metadata", {})) if part is None else {}
    head = ObjectHead(response["ContentLength"], "", metadata)
    reason = _mismatch(member, head)
    if reason is not None:
        body.close()
        return _Fetched(failure=reason)
    return _Fetched(body=body)


def _read_whole(store: CachedObjects, member: Member) -> _Fetched:
    """A small member's object in one request: the store's direct GET when it has one."""
    get_small = getattr(store, "get_small", None)
    if get_small is None:
        fetched = _open(store, member)
        if fetched.failure is not None:
            return fetched
        try:
            data = b"".join(fetched.pieces())
        finally:
            fetched.close()
        return _Fetched(data=data)
    try:
        found = get_small(member.object_key)
    except ClientError as error:
        if is_missing(error):
            return _Fetched(failure=NOT_IN_STORE)
        raise _cache_failure(error) from error
    except BotoCoreError as error:
        raise _cache_failure(error) from error
    if found is None:
        return _Fetched(failure=NOT_IN_STORE)
    head, data = found
    reason = _mismatch(member, head)
    return _Fetched(failure=reason) if reason is not None else _Fetched(data=data)


def _fetched(store: CachedObjects, members: Sequence[Member]) -> Generator[_Fetched]:
    """Each member's object in order: small ones read whole a few members ahead, in
    parallel (a GET's latency dwarfs a small object's transfer), large ones opened when
    their turn comes (an open GET must not wait long to be read). Consecutive slices of
    one pack are read together, a range of up to ``RUN_BYTES`` per request."""
    position = 0
    ahead: deque[tuple[Member, Future[Any] | None, int]] = deque()
    pool = ThreadPoolExecutor(PREFETCH_WORKERS, "nearline-prefetch")
    get_range = getattr(store, "get_range", None)

    def top_up() -> None:
        nonlocal position
        while len(ahead) < PREFETCH_DEPTH and position < len(members):
            run = _run(members, position) if get_range is not None else []
            if run:
                future = pool.submit(_read_run, get_range, run)
                ahead.extend((member, future, n) for n, (member, _) in enumerate(run))
                position += len(run)
                continue
            member = members[position]
            position += 1
            small = member.size <= SMALL_OBJECT
            ahead.append((member, pool.submit(_read_whole, store, member) if small else None, -1))

    try:
        top_up()
        while ahead:
            member, future, n = ahead.popleft()
            top_up()
            if future is None:
                yield _open(store, member)
            else:
                yield future.result()[n] if n >= 0 else future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run(members: Sequence[Member], start: int) -> list[tuple[Member, Slice]]:
    """The slices of one pack from ``members[start]`` on, each after the one before it
    with at most ``RUN_GAP`` bytes between, spanning at most ``RUN_BYTES``."""
    first = slice_of(members[start].object_key)
    if first is None:
        return []
    run = [(members[start], first)]
    for index in range(start + 1, len(members)):
        member = members[index]
        part = slice_of(member.object_key)
        end = run[-1][1].last + 1
        if (
            part is None
            or part.pack != first.pack
            or not end <= part.offset <= end + RUN_GAP
            or part.last - first.offset >= RUN_BYTES
        ):
            break
        run.append((member, part))
    return run


def _read_run(get_range: Any, run: list[tuple[Member, Slice]]) -> list[_Fetched]:
    """The members of a run of slices, read with one range request."""
    first, last = run[0][1].offset, run[-1][1].last
    try:
        data = get_range(run[0][1].pack, first, last)
    except ClientError as error:
        if is_missing(error):
            data = None
        else:
            raise _cache_failure(error) from error
    except BotoCoreError as error:
        raise _cache_failure(error) from error
    if data is None:
        return [_Fetched(failure=NOT_IN_STORE) for _ in run]
    view = memoryview(data)
    fetched = []
    for member, part in run:
        piece = view[part.offset - first : part.last - first + 1]
        if part.size != member.size:
            fetched.append(_Fetched(failure=f"the cached slice has {part.size} bytes"))
        elif len(piece) != part.size:
            fetched.append(_Fetched(failure=SHORT_PACK))
        else:
            fetched.append(_Fetched(data=piece))
    return fetched


_DONE = object()


def _read_ahead(produce: Iterator[bytes], depth: int) -> Generator[bytes]:
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
            yield cast(bytes, item)
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
    """
    stream = stream_aggregate(store, members, holding_id=holding_id)
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
