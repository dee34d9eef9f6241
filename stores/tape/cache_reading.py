"""Reading the files to archive from the S3 cache: whole, streamed, or a run of pack slices.

A file's object is read with one GET, no HEAD before: a request's latency, not its bytes,
bounds small files, so small objects are read whole, several at a time, ahead of their
use (``fetch_in_order``), and large ones opened as a stream when their turn comes. Files
stored as slices of a pack (D90) are read a run at a time, one range request for up to
``RUN_BYTES`` of consecutive slices. An object that is missing, has the wrong size or
records another checksum than the catalog is a ``Fetched`` with its ``failure``: that file
fails alone. The store failing (unreachable, busy, a stream cut mid-object) raises
``CacheFailure``.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from domain.pack_keys import Slice, slice_of
from stores.failures import NOT_IN_STORE, is_missing, store_failure
from stores.s3.direct_s3 import ObjectHead

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "CacheFailure",
    "CachedFile",
    "CachedObjects",
    "Fetched",
    "WholeSums",
    "fetch_in_order",
    "head_objects",
]

READ_SIZE = 1024 * 1024  # bytes per S3 body read
SMALL_OBJECT = 1024 * 1024  # objects up to this size are fetched whole, ahead, in parallel
PREFETCH_DEPTH = 128  # small objects fetched ahead: at most 128 MiB held
PREFETCH_WORKERS = 32  # GETs in flight: their latency, not their bytes, bounds small members
HEAD_WORKERS = 8  # HEADs in flight: latency-bound against a remote store
RUN_BYTES = 4 * 1024 * 1024  # consecutive slices of a pack read in one range request
RUN_GAP = 64 * 1024  # bytes of other slices (deleted files) read over rather than around
SHORT_PACK = "the cached pack is shorter than the catalog says"


class CachedObjects(Protocol):
    """What aggregates need of the S3 cache: ``ObjectStore`` (or a fake of it)."""

    bucket: str
    client: S3Client


class CachedFile(Protocol):
    """A cataloged file whose bytes are an object (or a slice of a pack) in the cache."""

    @property
    def object_key(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def adler32(self) -> str: ...


class CacheFailure(Exception):
    """The S3 cache could not be read for the aggregate as a whole: nothing was archived.

    ``retryable`` when trying again later may succeed (the store was unreachable or busy,
    or an object changed while it was being archived: the next attempt sees its new state).
    """

    def __init__(self, reason: str, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


def _cache_failure(error: BotoCoreError | ClientError) -> CacheFailure:
    failure = store_failure(error)
    return CacheFailure(failure.reason, failure.retryable)


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


def _mismatch(file: CachedFile, head: ObjectHead | None) -> str | None:
    """Why the cached object cannot be this file's content, or None if it may be."""
    if head is None:
        return NOT_IN_STORE
    if head.size != file.size:
        return f"the cached object has {head.size} bytes, not {file.size}"
    # An object whose checksums were never recorded (an interrupted multipart upload) may
    # still be right: its bytes are checked as they stream.
    recorded = head.metadata
    if recorded.get("sha256", file.sha256) != file.sha256:
        return "the cached object records another sha256 than the catalog"
    if recorded.get("adler32", file.adler32) != file.adler32:
        return "the cached object records another adler32 than the catalog"
    return None


class WholeSums:
    """The size and sha256 of an object read whole, hashed where it was read (in a
    prefetching thread: hashlib releases the GIL, so objects are hashed on several cores
    at once). Its adler32 is summed only when asked: once the sha256 matched the catalog,
    the catalog's adler32 is the data's (D223)."""

    def __init__(self, data: bytes | memoryview) -> None:
        self._data = data
        self.size = memoryview(data).nbytes
        self.sha256 = hashlib.sha256(data).hexdigest()

    @property
    def adler32(self) -> str:
        return f"{zlib.adler32(self._data):08x}"


class Fetched:
    """One file's object, opened (a streaming GET) or, when small, already read."""

    def __init__(
        self, body: Any = None, data: bytes | memoryview | None = None, failure: str | None = None
    ) -> None:
        self._body = body
        self._data = data
        self.failure = failure  # why the object cannot be the file's content
        self.sums = WholeSums(data) if data is not None else None

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


def _open(store: CachedObjects, file: CachedFile) -> Fetched:
    """GET the file's object, streaming; a failure if it cannot be the file's."""
    part = slice_of(file.object_key)
    try:
        if part is None:
            response = store.client.get_object(Bucket=store.bucket, Key=file.object_key)
        else:  # a slice: the pack's metadata is not the file's
            response = store.client.get_object(
                Bucket=store.bucket, Key=part.pack, Range=f"bytes={part.offset}-{part.last}"
            )
    except ClientError as error:
        if is_missing(error):
            return Fetched(failure=NOT_IN_STORE)
        raise _cache_failure(error) from error
    except BotoCoreError as error:
        raise _cache_failure(error) from error
    body = response["Body"]
    metadata = dict(response.get("Metadata", {})) if part is None else {}
    head = ObjectHead(response["ContentLength"], "", metadata)
    reason = _mismatch(file, head)
    if reason is not None:
        body.close()
        return Fetched(failure=reason)
    return Fetched(body=body)


def _read_whole(store: CachedObjects, file: CachedFile) -> Fetched:
    """A small file's object in one request: the store's direct GET when it has one."""
    get_small = getattr(store, "get_small", None)
    if get_small is None:
        fetched = _open(store, file)
        if fetched.failure is not None:
            return fetched
        try:
            data = b"".join(fetched.pieces())
        finally:
            fetched.close()
        return Fetched(data=data)
    try:
        found = get_small(file.object_key)
    except ClientError as error:
        if is_missing(error):
            return Fetched(failure=NOT_IN_STORE)
        raise _cache_failure(error) from error
    except BotoCoreError as error:
        raise _cache_failure(error) from error
    if found is None:
        return Fetched(failure=NOT_IN_STORE)
    head, data = found
    reason = _mismatch(file, head)
    return Fetched(failure=reason) if reason is not None else Fetched(data=data)


def fetch_in_order(store: CachedObjects, files: Sequence[CachedFile]) -> Generator[Fetched]:
    """Each file's object in order: small ones read whole a few files ahead, in parallel
    (a GET's latency dwarfs a small object's transfer), large ones opened when their turn
    comes (an open GET must not wait long to be read). Consecutive slices of one pack are
    read together, a range of up to ``RUN_BYTES`` per request."""
    position = 0
    ahead: deque[tuple[CachedFile, Future[Any] | None, int]] = deque()
    pool = ThreadPoolExecutor(PREFETCH_WORKERS, "nearline-prefetch")
    get_range = getattr(store, "get_range", None)

    def top_up() -> None:
        nonlocal position
        while len(ahead) < PREFETCH_DEPTH and position < len(files):
            run = _run(files, position) if get_range is not None else []
            if run:
                future = pool.submit(_read_run, get_range, run)
                ahead.extend((file, future, n) for n, (file, _) in enumerate(run))
                position += len(run)
                continue
            file = files[position]
            position += 1
            small = file.size <= SMALL_OBJECT
            ahead.append((file, pool.submit(_read_whole, store, file) if small else None, -1))

    try:
        top_up()
        while ahead:
            file, future, n = ahead.popleft()
            top_up()
            if future is None:
                yield _open(store, file)
            else:
                yield future.result()[n] if n >= 0 else future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run(files: Sequence[CachedFile], start: int) -> list[tuple[CachedFile, Slice]]:
    """The slices of one pack from ``files[start]`` on, each after the one before it
    with at most ``RUN_GAP`` bytes between, spanning at most ``RUN_BYTES``."""
    first = slice_of(files[start].object_key)
    if first is None:
        return []
    run = [(files[start], first)]
    for index in range(start + 1, len(files)):
        file = files[index]
        part = slice_of(file.object_key)
        end = run[-1][1].last + 1
        if (
            part is None
            or part.pack != first.pack
            or not end <= part.offset <= end + RUN_GAP
            or part.last - first.offset >= RUN_BYTES
        ):
            break
        run.append((file, part))
    return run


def _read_run(get_range: Any, run: list[tuple[CachedFile, Slice]]) -> list[Fetched]:
    """The files of a run of slices, read with one range request."""
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
        return [Fetched(failure=NOT_IN_STORE) for _ in run]
    view = memoryview(data)
    fetched = []
    for file, part in run:
        piece = view[part.offset - first : part.last - first + 1]
        if part.size != file.size:
            fetched.append(Fetched(failure=f"the cached slice has {part.size} bytes"))
        elif len(piece) != part.size:
            fetched.append(Fetched(failure=SHORT_PACK))
        else:
            fetched.append(Fetched(data=piece))
    return fetched
