"""nearline's tape client: files on an XRootD tape endpoint (EOSCTA, or the local stack's).

What the endpoint does, and so what this client relies on (docs/tape-endpoint.md):

- A written file lands in the endpoint's disk buffer; ``write`` streams it, computing its
  adler32 on the way, and compares that with the server's checksum. The endpoint then
  migrates it to tape; ``stat(path).on_tape`` tells when the tape copy exists (checked by
  the endpoint against the same checksum). Only then is a file archived.
- A file evicted from the disk buffer is OFFLINE: reading it raises ``TapeOffline`` until
  ``stage`` has recalled it; ``stage_status`` follows recalls through prepare-query.
- ``checksum`` answers for OFFLINE files too (the checksum recorded at migration); after a
  recall it is computed from the recalled bytes, so ``verify`` against the checksum nearline
  recorded at write time catches a corrupted tape copy.

Paths are relative to the endpoint's root folder (``TapeSettings.root``).

Over 400 lines as one job: ``TapeEndpoint`` is the one client of the XRootD endpoint, and
write, stat, stage, evict and read share its connection, its path rules and its error
mapping (its errors are in ``errors``, the tar aggregates on top of it in ``aggregate``).
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from XRootD import client
from XRootD.client.flags import OpenFlags, PrepareFlags, QueryCode, StatInfoFlags

from stores.tape.errors import (
    KXR_NOT_FOUND,
    TapeChecksumMismatch,
    TapeConflict,
    TapeError,
    TapeFailure,
    TapeNotFound,
    TapeOffline,
    TapeUnavailable,
    raise_for,
)
from stores.tape.writes import PipelinedWrites

__all__ = [
    "ByteRange",
    "StageState",
    "TapeChecksumMismatch",
    "TapeConflict",
    "TapeEndpoint",
    "TapeError",
    "TapeFailure",
    "TapeNotFound",
    "TapeOffline",
    "TapeStat",
    "TapeUnavailable",
    "TapeWrite",
]

CLIENT_LOGIN = "nearline"  # login name when the URL has none (identity comes from auth)
MAX_PATHS_PER_PREPARE = 48  # XRootD's PrepGPI default; EOSCTA accepts more
_QUERY_BATCH = 8  # prepare-query answers must fit about 2 KB on XRootD 5.5
_NO_ANSWER = "No information available."  # what XRootD sends when the answer did not fit


@dataclass(frozen=True)
class TapeWrite:
    """A file written (or found already written, ``reused``) with this size and adler32."""

    path: str
    size: int
    adler32: str  # 8 lower-case hex digits
    reused: bool


@dataclass(frozen=True)
class TapeStat:
    size: int
    online: bool  # a disk-buffer copy exists: the file can be read now
    on_tape: bool  # the tape copy exists and has the file's checksum: the file is archived


@dataclass(frozen=True)
class StageState:
    """One file's answer to prepare-query."""

    exists: bool
    online: bool
    on_tape: bool
    requested: bool  # a recall is pending (for any request)
    has_request: bool  # the request id asked about is pending, or failed, for this file
    error: str | None  # why the last recall failed, or why the file cannot be recalled


class ByteRange(NamedTuple):
    offset: int
    length: int


class TapeEndpoint:
    """Files under ``root`` on the XRootD endpoint at ``url`` (e.g. ``root://host:1094/``).

    ``timeout`` bounds each request in seconds; ``connect_timeout`` bounds how long a dead
    server is retried before ``TapeUnavailable``. XRootD fixes connection settings when a
    connection is first made, per login name and server: endpoints sharing both share the
    first one's ``connect_timeout``.
    """

    def __init__(
        self,
        url: str,
        root: str,
        *,
        timeout: int = 30,
        connect_timeout: int = 5,
        chunk_size: int = 8 * 1024 * 1024,
    ) -> None:
        parsed = client.URL(url)
        if not parsed.is_valid() or parsed.protocol not in ("root", "roots"):
            raise ValueError(f"not an XRootD URL: {url!r}")
        if timeout < 1 or connect_timeout < 1 or chunk_size < 1:
            raise ValueError("timeouts and chunk size must be positive")
        # A login name of its own gives this client its own connection, which then gets the
        # settings of _tune_client (XRootD fixes them when a connection is first made).
        hostid = parsed.hostid if parsed.username else f"{CLIENT_LOGIN}@{parsed.hostid}"
        self.url = f"{parsed.protocol}://{hostid}/"
        self.root = "/" + root.strip("/")
        self.timeout = timeout
        self.chunk_size = chunk_size
        _tune_client(connect_timeout)
        self._fs = client.FileSystem(self.url)

    def __repr__(self) -> str:
        return f"TapeEndpoint({self.url!r}, {self.root!r})"

    # -- writing ------------------------------------------------------------------------

    def write(
        self, path: str, chunks: Iterable[bytes], expected: Callable[[], str] | None = None
    ) -> TapeWrite:
        """Write a new file from ``chunks``, streaming, and check the server's adler32:
        against ``expected()``, called once the chunks ran out, when the caller knows the
        sum of its bytes (then they are not summed again here), else against their sum.

        A file already at ``path`` with the same size and adler32 is reused (the chunks are
        read to check, nothing is written); a different one raises ``TapeConflict``. A
        checksum mismatch removes the file written and raises ``TapeChecksumMismatch``.
        """
        full = self._full(path)
        try:
            existing = self._stat(full, f"stat {full}")
        except TapeNotFound:
            return self._write_new(path, full, chunks, expected)
        size, adler32 = _measure(chunks)
        theirs = self.checksum(path)
        if (size, adler32) != (existing.size, theirs):
            raise TapeConflict(
                f"{full} on {self.url} already exists with {existing.size} bytes and adler32 "
                f"{theirs}, not {size} bytes and adler32 {adler32}"
            )
        return TapeWrite(path, size, adler32, reused=True)

    def _write_new(
        self,
        path: str,
        full: str,
        chunks: Iterable[bytes],
        expected: Callable[[], str] | None,
    ) -> TapeWrite:
        handle = client.File()
        # POSC: should this client die mid-way, the server removes the partial file.
        flags = OpenFlags.NEW | OpenFlags.MAKEPATH | OpenFlags.POSC
        status, _ = handle.open(self._url(full), flags, timeout=self.timeout)
        raise_for(status, f"create {full} on {self.url}")
        size, running = 0, zlib.adler32(b"")
        writes = PipelinedWrites(handle, f"{full} on {self.url}", self.timeout)
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                data = bytes(chunk)
                writes.send(data, size)
                if expected is None:
                    running = zlib.adler32(data, running)
                size += len(data)
            writes.finish()
            status, _ = handle.close(timeout=self.timeout)
            raise_for(status, f"close {full} on {self.url}")
        except BaseException:
            writes.settle()  # XRootD may still read buffers of writes in flight
            self._abandon(handle, full)
            raise
        adler32 = expected() if expected is not None else f"{running:08x}"
        theirs = self.checksum(path)
        if theirs != adler32:
            self._remove_quietly(full)
            raise TapeChecksumMismatch(
                f"{full} on {self.url}: the server has adler32 {theirs}, nearline sent "
                f"{adler32}; the file was removed"
            )
        return TapeWrite(path, size, adler32, reused=False)

    def _abandon(self, handle: Any, full: str) -> None:
        """Drop a partial file: close it (it persists then) and remove it, best effort."""
        if handle.is_open():
            handle.close(timeout=self.timeout)
        self._remove_quietly(full)

    def _remove_quietly(self, full: str) -> None:
        # Best effort: the original failure is what the caller needs to see.
        with contextlib.suppress(Exception):
            self._fs.rm(full, timeout=self.timeout)

    def delete(self, path: str) -> None:
        """Remove a file: its disk-buffer copy and its tape copy."""
        full = self._full(path)
        status, _ = self._fs.rm(full, timeout=self.timeout)
        raise_for(status, f"remove {full} on {self.url}")

    # -- state --------------------------------------------------------------------------

    def stat(self, path: str) -> TapeStat:
        """Size and locality of a file; ``TapeNotFound`` if there is none."""
        full = self._full(path)
        info = self._stat(full, f"stat {full}")
        state = self.stage_status("nearline-stat", [path])[path]
        return TapeStat(
            size=info.size, online=not info.flags & StatInfoFlags.OFFLINE, on_tape=state.on_tape
        )

    def checksum(self, path: str) -> str:
        """The file's adler32 from the server (8 hex digits), online or only on tape."""
        full = self._full(path)
        status, answer = self._fs.query(
            QueryCode.CHECKSUM, f"{full}?cks.type=adler32", timeout=self.timeout
        )
        if not status.ok and status.errno == KXR_NOT_FOUND:
            self._stat(full, f"checksum {full}")  # tells a missing file from a failed sum
        raise_for(status, f"checksum {full} on {self.url}")
        text = _text(answer)
        algorithm, _, value = text.partition(" ")
        try:
            if algorithm != "adler32":
                raise ValueError(algorithm)
            return f"{int(value, 16):08x}"
        except ValueError:
            raise TapeError(f"checksum {full} on {self.url}: unexpected answer {text!r}") from None

    def verify(self, path: str, adler32: str) -> None:
        """Raise ``TapeChecksumMismatch`` unless the server's adler32 is ``adler32`` (e.g.
        the one recorded at write time, checked after a recall)."""
        theirs = self.checksum(path)
        if theirs != f"{int(adler32, 16):08x}":
            raise TapeChecksumMismatch(
                f"{self._full(path)} on {self.url} has adler32 {theirs}, expected {adler32}"
            )

    # -- staging ------------------------------------------------------------------------

    def stage(self, paths: Sequence[str]) -> str:
        """Ask for files to be recalled to disk; returns the request id at once. At most
        ``MAX_PATHS_PER_PREPARE`` paths per request."""
        fulls = self._fulls(paths)
        status, answer = self._fs.prepare(fulls, PrepareFlags.STAGE, timeout=self.timeout)
        raise_for(status, f"stage {len(fulls)} files on {self.url}")
        request_id = _text(answer)
        if not request_id:
            raise TapeError(f"stage on {self.url}: the server returned no request id")
        self._await_registration(request_id, paths)
        return request_id

    def _await_registration(self, request_id: str, paths: Sequence[str]) -> None:
        """XRootD queues a prepare before its handler records it; wait (briefly) until
        prepare-query knows of every path, so that callers never see it vanish."""
        deadline = time.monotonic() + self.timeout
        while True:
            states = self.stage_status(request_id, paths).values()
            if all(s.has_request or s.online or not s.exists for s in states):
                return
            if time.monotonic() > deadline:
                raise TapeUnavailable(
                    f"stage on {self.url}: request {request_id} not registered within "
                    f"{self.timeout}s"
                )
            time.sleep(0.02)

    def stage_status(self, request_id: str, paths: Sequence[str]) -> dict[str, StageState]:
        """prepare-query: where each file is and how its recall goes."""
        wanted = {self._full(path): path for path in paths}
        states: dict[str, StageState] = {}
        fulls = list(wanted)
        for start in range(0, len(fulls), _QUERY_BATCH):
            for response in self._query(request_id, fulls[start : start + _QUERY_BATCH]):
                full = response.get("path")
                if full in wanted:
                    states[wanted[full]] = _stage_state(response)
        missing = [path for path in paths if path not in states]
        if missing:
            raise TapeError(f"prepare-query on {self.url} did not answer for {missing}")
        return states

    def _query(self, request_id: str, fulls: list[str]) -> list[dict[str, Any]]:
        status, answer = self._fs.query(
            QueryCode.PREPARE, "\n".join([request_id, *fulls]), timeout=self.timeout
        )
        raise_for(status, f"prepare-query {len(fulls)} files on {self.url}")
        text = _text(answer)
        try:
            responses = json.loads(text)["responses"]
        except (ValueError, KeyError, TypeError):
            if text == _NO_ANSWER and len(fulls) > 1:  # too long for the server: halve it
                half = len(fulls) // 2
                return self._query(request_id, fulls[:half]) + self._query(request_id, fulls[half:])
            raise TapeError(
                f"prepare-query on {self.url}: unexpected answer {text[:200]!r}"
            ) from None
        return [r for r in responses if isinstance(r, dict)]

    def cancel(self, request_id: str, paths: Sequence[str]) -> None:
        """Withdraw a stage request for these files; a recall nobody requests any more is
        dropped (the files stay OFFLINE)."""
        fulls = self._fulls(paths)
        status, _ = self._fs.prepare(
            [request_id, *fulls], PrepareFlags.CANCEL, timeout=self.timeout
        )
        raise_for(status, f"cancel {request_id} for {len(fulls)} files on {self.url}")

    def evict(self, paths: Sequence[str]) -> None:
        """Ask the endpoint to drop the disk copies of files that are on tape (they go
        OFFLINE). Asynchronous: ``stat`` shows the effect shortly after."""
        fulls = self._fulls(paths)
        status, _ = self._fs.prepare(fulls, PrepareFlags.EVICT, timeout=self.timeout)
        raise_for(status, f"evict {len(fulls)} files on {self.url}")

    # -- reading ------------------------------------------------------------------------

    def read_range(self, path: str, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` of an online file (``TapeOffline`` otherwise)."""
        return b"".join(chunk for _, chunk in self.read_ranges(path, [ByteRange(offset, length)]))

    def read_ranges(
        self, path: str, ranges: Iterable[tuple[int, int]]
    ) -> Iterator[tuple[ByteRange, bytes]]:
        """Stream byte ranges of one file (e.g. the members of a tar aggregate), opened
        once: yields ``(range, chunk)`` in order, each range in chunks of at most
        ``chunk_size`` bytes. A range past the end of the file raises ``TapeError``."""
        full = self._full(path)
        handle = client.File()
        status, _ = handle.open(self._url(full), OpenFlags.READ, timeout=self.timeout)
        try:
            raise_for(status, f"open {full} on {self.url}")
        except TapeOffline:
            # The endpoint answers a missing file as it answers an OFFLINE one.
            self._stat(full, f"open {full}")
            raise
        try:
            for offset, length in ranges:
                wanted = ByteRange(offset, length)
                if offset < 0 or length < 0:
                    raise ValueError(f"invalid byte range {wanted}")
                yield from self._read_range(handle, full, wanted)
        finally:
            handle.close(timeout=self.timeout)

    def _read_range(
        self, handle: Any, full: str, wanted: ByteRange
    ) -> Iterator[tuple[ByteRange, bytes]]:
        position, end = wanted.offset, wanted.offset + wanted.length
        while position < end:
            size = min(self.chunk_size, end - position)
            status, data = handle.read(offset=position, size=size, timeout=self.timeout)
            raise_for(status, f"read {full} at byte {position} on {self.url}")
            if not data:
                raise TapeError(
                    f"read {full} on {self.url}: the file ends before byte {end} (range {wanted})"
                )
            position += len(data)
            yield wanted, data

    # -- paths --------------------------------------------------------------------------

    def _full(self, path: str) -> str:
        parts = path.split("/")
        if (
            not path
            or path.startswith("/")
            or any(p in ("", ".", "..") for p in parts)
            or any(c in path for c in "?\n\0")
        ):
            raise ValueError(f"not a relative tape path: {path!r}")
        return posixpath.join(self.root, path)

    def _fulls(self, paths: Sequence[str]) -> list[str]:
        if not paths or len(paths) > MAX_PATHS_PER_PREPARE:
            raise ValueError(f"give 1 to {MAX_PATHS_PER_PREPARE} paths, not {len(paths)}")
        return [self._full(path) for path in paths]

    def _url(self, full: str) -> str:
        return self.url + full  # root://host:port//absolute/path

    def _stat(self, full: str, action: str) -> Any:
        status, info = self._fs.stat(full, timeout=self.timeout)
        raise_for(status, f"{action} on {self.url}")
        return info


def _tune_client(connect_timeout: int) -> None:
    """XrdCl retries a dead server for minutes, checks timeouts every 15 s and remembers a
    broken connection for 30 minutes; a tape client wants to know, and recover, quickly."""
    client.EnvPutInt("ConnectionWindow", connect_timeout)
    client.EnvPutInt("ConnectionRetry", 1)
    client.EnvPutInt("TimeoutResolution", 1)
    client.EnvPutInt("StreamErrorWindow", 0)


def _measure(chunks: Iterable[bytes]) -> tuple[int, str]:
    size, running = 0, zlib.adler32(b"")
    for chunk in chunks:
        running = zlib.adler32(chunk, running)
        size += len(chunk)
    return size, f"{running:08x}"


def _text(answer: bytes | None) -> str:
    """A server answer as text: XRootD ends it with a NUL (and sometimes junk after)."""
    return (answer or b"").split(b"\0", 1)[0].decode(errors="replace").strip()


def _stage_state(response: dict[str, Any]) -> StageState:
    return StageState(
        exists=bool(response.get("path_exists")),
        online=bool(response.get("online")),
        on_tape=bool(response.get("on_tape")),
        requested=bool(response.get("requested")),
        has_request=bool(response.get("has_reqid")),
        error=response.get("error_text") or None,
    )
