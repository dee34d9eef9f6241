"""Writes to an open XRootD file sent without waiting for each reply.

A write is a round trip: sent one at a time, the client waits while the server stores a
chunk, and the server waits while the client sends the next. ``PipelinedWrites`` keeps up
to ``depth`` writes in flight, as ``xrdcp`` does with its parallel chunks. XRootD reads
a chunk's bytes straight from the caller's buffer until its reply comes, so each buffer
is held here until then.
"""

from __future__ import annotations

import threading
from typing import Any

from stores.tape.errors import fail, raise_for

WRITES_IN_FLIGHT = 3  # of the aggregate's write size each: 24 MiB held at most


class PipelinedWrites:
    """Writes to ``handle`` at the offsets given, up to ``depth`` unanswered at a time.
    ``send`` raises the failure of any write answered so far; ``finish`` waits for every
    reply and raises the first failure."""

    def __init__(self, handle: Any, name: str, timeout: int, depth: int = WRITES_IN_FLIGHT):
        if depth < 1:
            raise ValueError(f"writes in flight must be at least 1, not {depth}")
        self._handle = handle
        self._name = name
        self._timeout = timeout
        self._depth = depth
        self._slots = threading.Semaphore(depth)
        self._lock = threading.Lock()
        self._held: dict[int, bytes] = {}  # by offset: XRootD reads them until it replies
        self._failure: tuple[Any, int] | None = None  # the first failed write's status

    def send(self, data: bytes, offset: int) -> None:
        self._slots.acquire()
        try:
            self._raise_failure()
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self._held[offset] = data

        def replied(status: Any, _response: Any, _hosts: Any) -> None:
            with self._lock:
                self._held.pop(offset, None)
                if not status.ok and self._failure is None:
                    self._failure = (status, offset)
            self._slots.release()

        status = self._handle.write(data, offset=offset, timeout=self._timeout, callback=replied)
        if not status.ok:  # refused before it was sent: no reply will come
            with self._lock:
                self._held.pop(offset, None)
            self._slots.release()
            raise_for(status, f"write {self._name} at byte {offset}")

    def finish(self) -> None:
        """Wait until every write sent has its reply; raise the first failure."""
        self.settle()
        self._raise_failure()

    def settle(self) -> None:
        """Wait until every write sent has its reply (its buffer is no longer read)."""
        for _ in range(self._depth):
            self._slots.acquire()
        for _ in range(self._depth):
            self._slots.release()

    def _raise_failure(self) -> None:
        with self._lock:
            failure = self._failure
        if failure is not None:
            status, offset = failure
            fail(status, f"write {self._name} at byte {offset}")
