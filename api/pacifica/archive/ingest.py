"""Bytes arriving over HTTP streamed into the S3 cache, checksummed as they pass.

A small body (below ``s3.pack_below``) is read whole, to join a pack (``packing``). A
body smaller than one part is kept in memory and stored with one PUT whose sha256 the
server verifies; a larger one becomes a multipart upload of ``PART_BYTES`` parts (each
with a CRC32 the server verifies), so an upload of any size costs about one part of
memory. Anything that stops the stream (the client went away, fewer or more bytes than
announced, the store refused) aborts the multipart upload: a failed upload leaves no
object. The blocking store calls run in threads, off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from stores.checksums import Checksummer
from stores.s3.object_store import ObjectStore

log = logging.getLogger("nearline.pacifica")

PART_BYTES = 16 * 1024 * 1024  # S3 wants at least 5 MiB; bounds memory per upload


class WrongLength(Exception):
    """The body was not as long as its Content-Length said."""


@dataclass(frozen=True)
class Streamed:
    size: int
    adler32: str
    sha256: str


async def stream_to_store(
    store: ObjectStore,
    key: str,
    chunks: AsyncIterator[bytes],
    size: int,
    metadata: dict[str, str],
    part_bytes: int = PART_BYTES,
) -> Streamed:
    """Store the ``size`` bytes ``chunks`` yields at ``key``; raises (having left no
    object) if the stream or the store fails."""
    checksums = Checksummer()
    buffer = bytearray()
    upload: _Multipart | None = None
    try:
        async for chunk in chunks:
            checksums.update(chunk)
            if checksums.size > size:
                raise WrongLength(f"more than the {size} bytes announced")
            buffer += chunk
            while len(buffer) >= part_bytes and checksums.size < size:
                if upload is None:
                    upload = await asyncio.to_thread(_Multipart.start, store, key, metadata)
                part = bytes(buffer[:part_bytes])
                del buffer[:part_bytes]
                await asyncio.to_thread(upload.send, part)
        if checksums.size != size:
            raise WrongLength(f"{checksums.size} bytes of the {size} announced")
        if upload is None:
            await asyncio.to_thread(store.put_bytes, key, bytes(buffer), checksums.sha256, metadata)
        else:
            await asyncio.to_thread(upload.finish, bytes(buffer))
    except BaseException:
        if upload is not None:
            # Shielded: a cancelled request (client gone) must still abort its upload.
            await asyncio.shield(asyncio.to_thread(upload.abort))
        raise
    return Streamed(checksums.size, checksums.adler32, checksums.sha256)


async def read_whole(chunks: AsyncIterator[bytes], size: int) -> tuple[bytes, Streamed]:
    """The ``size`` bytes ``chunks`` yields, and their checksums."""
    checksums = Checksummer()
    data = bytearray()
    async for chunk in chunks:
        checksums.update(chunk)
        if checksums.size > size:
            raise WrongLength(f"more than the {size} bytes announced")
        data += chunk
    if checksums.size != size:
        raise WrongLength(f"{checksums.size} bytes of the {size} announced")
    return bytes(data), Streamed(checksums.size, checksums.adler32, checksums.sha256)


class _Multipart:
    """One multipart upload, its parts sent in order."""

    def __init__(self, store: ObjectStore, key: str, upload_id: str) -> None:
        self.store, self.key, self.upload_id = store, key, upload_id
        self.parts: list[dict[str, Any]] = []

    @classmethod
    def start(cls, store: ObjectStore, key: str, metadata: dict[str, str]) -> _Multipart:
        reply = store.client.create_multipart_upload(
            Bucket=store.bucket, Key=key, Metadata=metadata, ChecksumAlgorithm="CRC32"
        )
        return cls(store, key, reply["UploadId"])

    def send(self, data: bytes) -> None:
        number = len(self.parts) + 1
        crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
        reply = self.store.client.upload_part(
            Bucket=self.store.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=data,
            ChecksumCRC32=crc,
        )
        self.parts.append({"PartNumber": number, "ETag": reply["ETag"], "ChecksumCRC32": crc})

    def finish(self, last: bytes) -> None:
        if last or not self.parts:
            self.send(last)
        self.store.client.complete_multipart_upload(
            Bucket=self.store.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},  # type: ignore[typeddict-item]
        )

    def abort(self) -> None:
        try:
            self.store.client.abort_multipart_upload(
                Bucket=self.store.bucket, Key=self.key, UploadId=self.upload_id
            )
        except Exception as error:
            log.warning("could not abort the upload to %s: %s", self.key, error)
