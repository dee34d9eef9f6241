"""In-memory stand-ins for the S3 cache (the slice of boto3 aggregates use) and the tape."""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from domain.pack_keys import Slice, pack_key
from stores.checksums import Checksummer
from stores.tape.aggregate import Member
from stores.tape.endpoint import ByteRange, TapeChecksumMismatch, TapeConflict, TapeWrite

MTIME_NS = 1_700_000_000_123_456_789


def client_error(status: int, code: str, operation: str) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


@dataclass
class FakeObject:
    """An object's bytes, or a recipe for them (to stream more than memory should hold)."""

    size: int
    metadata: dict[str, str]
    data: bytes | None = None
    make: Callable[[], Iterator[bytes]] | None = None

    def chunks(self) -> Iterator[bytes]:
        if self.make is not None:
            return self.make()
        return iter([self.data or b""])


class FakeBody:
    """botocore's StreamingBody, as far as aggregates use it."""

    def __init__(self, source: FakeObject, client: FakeClient, key: str) -> None:
        self._pieces = _rechunk(source.chunks())
        self._client = client
        self._key = key
        self.closed = False

    def iter_chunks(self, chunk_size: int = 1024) -> Iterator[bytes]:
        self._client.read_sizes.append(chunk_size)
        while piece := self._pieces(chunk_size):
            if (fault := self._client.body_faults.get(self._key)) is not None:
                raise fault
            yield piece

    def read(self, amt: int | None = None) -> bytes:
        self._client.whole_reads.append(self._key)
        return b"".join(iter(lambda: self._pieces(1 << 20), b""))

    def close(self) -> None:
        self.closed = True


def _rechunk(chunks: Iterator[bytes]) -> Callable[[int], bytes]:
    """A reader of up to ``n`` bytes at a time from a stream of chunks."""
    pending = bytearray()

    def read(n: int) -> bytes:
        while len(pending) < n:
            chunk = next(chunks, None)
            if chunk is None:
                break
            pending.extend(chunk)
        piece = bytes(pending[:n])
        del pending[:n]
        return piece

    return read


@dataclass
class FakeClient:
    """The S3 calls of aggregates and restores, on a dict of objects."""

    objects: dict[str, FakeObject] = field(default_factory=dict)
    heads: list[str] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)
    read_sizes: list[int] = field(default_factory=list)
    whole_reads: list[str] = field(default_factory=list)
    bodies: list[FakeBody] = field(default_factory=list)
    head_faults: dict[str, Exception] = field(default_factory=dict)
    body_faults: dict[str, Exception] = field(default_factory=dict)
    before_get: dict[str, Callable[[], None]] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    aborted: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        with self._lock:
            self.heads.append(Key)
        if Key in self.head_faults:
            raise self.head_faults[Key]
        found = self._get(Key, "HeadObject")
        return {"ContentLength": found.size, "ETag": '"etag"', "Metadata": dict(found.metadata)}

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        with self._lock:
            self.gets.append(Key)
        if Key in self.before_get:
            self.before_get.pop(Key)()
        found = self._get(Key, "GetObject")
        body = FakeBody(found, self, Key)
        with self._lock:
            self.bodies.append(body)
        return {"Body": body, "ContentLength": found.size, "Metadata": dict(found.metadata)}

    def put_object(
        self, *, Bucket: str, Key: str, Body: bytes, Metadata: dict[str, str], ChecksumSHA256: str
    ) -> dict[str, Any]:
        if base64.b64encode(hashlib.sha256(Body).digest()).decode() != ChecksumSHA256:
            raise client_error(400, "BadDigest", "PutObject")
        self.objects[Key] = FakeObject(len(Body), dict(Metadata), data=bytes(Body))
        return {"ETag": '"etag"'}

    def create_multipart_upload(
        self, *, Bucket: str, Key: str, Metadata: dict[str, str], ChecksumAlgorithm: str
    ) -> dict[str, Any]:
        upload_id = f"upload-{next(self._ids)}"
        self.uploads[upload_id] = {"key": Key, "metadata": dict(Metadata), "parts": {}}
        return {"UploadId": upload_id}

    def upload_part(
        self,
        *,
        Bucket: str,
        Key: str,
        UploadId: str,
        PartNumber: int,
        Body: bytes,
        ChecksumAlgorithm: str,
    ) -> dict[str, Any]:
        crc = base64.b64encode(zlib.crc32(Body).to_bytes(4, "big")).decode()
        self.uploads[UploadId]["parts"][PartNumber] = (bytes(Body), crc)
        return {"ETag": f'"part-{PartNumber}"', "ChecksumCRC32": crc}

    def complete_multipart_upload(
        self, *, Bucket: str, Key: str, UploadId: str, MultipartUpload: dict[str, Any]
    ) -> dict[str, Any]:
        upload = self.uploads.pop(UploadId)
        stored = upload["parts"]
        for part in MultipartUpload["Parts"]:
            assert stored[part["PartNumber"]][1] == part["ChecksumCRC32"]
        data = b"".join(stored[n][0] for n in sorted(stored))
        self.objects[Key] = FakeObject(len(data), upload["metadata"], data=data)
        return {"ETag": '"multipart"'}

    def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str) -> None:
        self.uploads.pop(UploadId)
        self.aborted.append(Key)

    def _get(self, key: str, operation: str) -> FakeObject:
        found = self.objects.get(key)
        if found is None:
            raise client_error(404, "404" if operation == "HeadObject" else "NoSuchKey", operation)
        return found


@dataclass
class FakeStore:
    """An ``ObjectStore`` as aggregates see it: a bucket and a client."""

    client: FakeClient = field(default_factory=FakeClient)
    bucket: str = "nearline-cache"
    ranges: list[tuple[str, int, int]] = field(default_factory=list)

    def put(self, key: str, data: bytes) -> FakeObject:
        """Store ``data`` with the metadata ``ObjectStore`` records."""
        sums = Checksummer()
        sums.update(data)
        found = FakeObject(len(data), _metadata(sums), data=data)
        self.client.objects[key] = found
        return found

    def read(self, key: str) -> bytes:
        return b"".join(self.client.objects[key].chunks())

    def get_range(self, key: str, first: int, last: int) -> bytes | None:
        """As ``ObjectStore.get_range``: one request, counted in ``ranges``."""
        self.ranges.append((key, first, last))
        found = self.client.objects.get(key)
        return None if found is None else self.read(key)[first : last + 1]


def packed_members(store: FakeStore, files: list[tuple[int, bytes, bytes]]) -> list[Member]:
    """Members (file id, path, data) stored as slices of one pack, as a PUT leaves them."""
    data = b"".join(content for _, _, content in files)
    pack = pack_key("h1/t/", hashlib.sha256(data).hexdigest())
    store.put(pack, data)
    members, offset = [], 0
    for file_id, path, content in files:
        sums = Checksummer()
        sums.update(content)
        key = Slice(pack, offset, len(content)).key
        members.append(
            Member(file_id, path, key, len(content), 0o644, MTIME_NS, sums.sha256, sums.adler32)
        )
        offset += len(content)
    return members


def _metadata(sums: Checksummer) -> dict[str, str]:
    return {"size": str(sums.size), "mtime-ns": str(MTIME_NS), **sums.as_dict()}


def cached_member(
    store: FakeStore, file_id: int, path: bytes, data: bytes, *, mode: int = 0o640
) -> Member:
    """A member whose object is in ``store``, as a PUT would have left it."""
    key = f"h1/t/{file_id}"
    store.put(key, data)
    sums = Checksummer()
    sums.update(data)
    return Member(file_id, path, key, len(data), mode, MTIME_NS, sums.sha256, sums.adler32)


def lazy_member(store: FakeStore, file_id: int, path: bytes, size: int) -> Member:
    """A large member whose bytes are made as they are read, never all held at once."""
    block = bytes(range(256)) * 4096  # 1 MiB

    def make() -> Iterator[bytes]:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            left -= len(piece)
            yield piece

    sums = Checksummer()
    for piece in make():
        sums.update(piece)
    key = f"h1/t/{file_id}"
    store.client.objects[key] = FakeObject(size, _metadata(sums), make=make)
    return Member(file_id, path, key, size, 0o600, MTIME_NS, sums.sha256, sums.adler32)


class FakeTape:
    """A tape endpoint's write and ranged reads, on a dict of files."""

    def __init__(self, chunk_size: int = 8 * 1024 * 1024) -> None:
        self.files: dict[str, bytes] = {}
        self.chunk_size = chunk_size
        self.ranges: list[tuple[str, ByteRange]] = []

    def write(
        self, path: str, chunks: Iterable[bytes], expected: Callable[[], str] | None = None
    ) -> TapeWrite:
        # Collected before storing: a failed stream leaves no file (as POSC and removal do).
        data = b"".join(chunks)
        adler32 = f"{zlib.adler32(data):08x}"  # what the server computes
        if path not in self.files and expected is not None and expected() != adler32:
            raise TapeChecksumMismatch(f"{path}: the server has adler32 {adler32}")
        if path in self.files:
            if self.files[path] != data:
                raise TapeConflict(f"{path} exists with other content")
            return TapeWrite(path, len(data), adler32, reused=True)
        self.files[path] = data
        return TapeWrite(path, len(data), adler32, reused=False)

    def read_ranges(
        self, path: str, ranges: Iterable[tuple[int, int]]
    ) -> Iterator[tuple[ByteRange, bytes]]:
        data = self.files[path]
        for offset, length in ranges:
            wanted = ByteRange(offset, length)
            self.ranges.append((path, wanted))
            for start in range(offset, offset + length, self.chunk_size):
                yield wanted, data[start : min(start + self.chunk_size, offset + length)]
