"""Checksums of file content, computed in the one pass that also moves the data.

adler32 is what the tape endpoint (XRootD) reports and compares; sha256 is the catalog's
strong identity of the content. Both are computed together so a file is read only once.
A restore checks only the sha256 the catalog holds (``ContentCheck``).
"""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib

READ_SIZE = 1024 * 1024  # large reads: fewer system calls, and both hashes release the GIL
_ADLER_MODULUS = 65521


class Checksummer:
    """adler32 and sha256 of a byte stream fed in order, one chunk at a time."""

    def __init__(self) -> None:
        self._adler32 = zlib.adler32(b"")
        self._sha256 = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        """Add the next chunk of the stream."""
        self._adler32 = zlib.adler32(chunk, self._adler32)
        self._sha256.update(chunk)
        self.size += memoryview(chunk).nbytes

    @property
    def adler32(self) -> str:
        """8 lowercase hex digits, zero-padded, as XRootD prints it."""
        return f"{self._adler32:08x}"

    @property
    def sha256(self) -> str:
        """64 lowercase hex digits."""
        return self._sha256.hexdigest()

    def as_dict(self) -> dict[str, str]:
        return {"adler32": self.adler32, "sha256": self.sha256}

    def close(self) -> None:
        """Nothing to let go (see ``ThreadedChecksummer``)."""


class ContentCheck(Checksummer):
    """The sha256 (and size) of a stream being restored: what the catalog holds to check
    it against. Its adler32 is not computed (nothing checks a restored file's), and is
    "". With ``threaded``, the hash runs in a thread of its own while the caller moves
    the next chunk (hashlib releases the GIL): for large streams, where the hash would
    otherwise add to the time of the writes. ``close()`` ends that thread."""

    def __init__(self, threaded: bool = False, depth: int = 2) -> None:
        super().__init__()
        self._chunks: queue.Queue[bytes | None] | None = None
        if threaded:
            self._chunks = queue.Queue(depth)
            self._hasher = threading.Thread(target=self._hash, name="nearline-sha256", daemon=True)
            self._hasher.start()

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self.size += memoryview(chunk).nbytes
        if self._chunks is None:
            self._sha256.update(chunk)
        else:
            self._chunks.put(chunk if isinstance(chunk, bytes) else bytes(chunk))

    @property
    def adler32(self) -> str:
        return ""

    @property
    def sha256(self) -> str:
        self.close()
        return self._sha256.hexdigest()

    def close(self) -> None:
        if self._chunks is not None and self._hasher.is_alive():
            self._chunks.put(None)
            self._hasher.join()

    def _hash(self) -> None:
        assert self._chunks is not None
        while (chunk := self._chunks.get()) is not None:
            self._sha256.update(chunk)


def file_checksums(path: bytes) -> dict[str, str]:
    """adler32 and sha256 of a whole file, read independently of any transfer."""
    summer = Checksummer()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(READ_SIZE):
            summer.update(chunk)
    return summer.as_dict()


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
