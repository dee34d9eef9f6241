"""Users' file-system workers kept a few seconds after their work, for the next request
of the same requester (decision D208).

Starting a worker costs a Python start and its imports, and ending one a wait for its
exit: together about 0.15 s, paid by every sub-batch of a GET or PUT. A worker is only
ever lent again to the very same requester, as looked up for the new request (name, uid,
primary group and every group): a user whose groups changed gets a new worker with the
new ones. A worker goes back to the pool only if it answered everything asked of it and
is alive, and it forgets the folders and partial files of the work before first. Idle
workers end after ``idle_s`` seconds, and at most ``most`` wait at once.
"""

from __future__ import annotations

import threading
import time

from stores.posix.requesters import Requester, check_servable
from stores.posix.session import UserFiles, WorkerFailed

__all__ = ["WorkerPool", "shared_pool"]


class WorkerPool:
    """Idle workers of one process, lent again to the requester they act as."""

    def __init__(self, idle_s: float = 5.0, most: int = 8) -> None:
        self.idle_s = idle_s
        self.most = most
        self._idle: list[tuple[float, UserFiles]] = []  # (since, worker), oldest first
        self._changed = threading.Condition()
        self._reaper: threading.Thread | None = None

    def take(self, who: Requester, min_uid: int, timeout: float) -> UserFiles:
        """A worker acting as ``who``: an idle one of exactly this requester, or a new
        one. Closing it hands it back. Raises as ``UserFiles`` does."""
        check_servable(who, min_uid)
        files = self._idle_worker(who)
        if files is None:
            files = UserFiles(who, min_uid, timeout)
        if self.idle_s > 0:
            files.keeper = self._keep
        return files

    def close(self) -> None:
        """End every idle worker."""
        with self._changed:
            idle, self._idle = self._idle, []
            self._changed.notify()
        for _, files in idle:
            files.end()

    def idle(self) -> int:
        with self._changed:
            return len(self._idle)

    def _idle_worker(self, who: Requester) -> UserFiles | None:
        with self._changed:
            for index, (_, files) in enumerate(self._idle):
                if files.who == who:
                    del self._idle[index]
                    break
            else:
                return None
        if files.reusable:
            return files
        files.end()
        return None

    def _keep(self, files: UserFiles) -> bool:
        """Take ``files`` back if it can serve again; False: the caller ends it."""
        if not files.reusable:
            return False
        try:
            files.reset()
        except WorkerFailed:
            return False
        with self._changed:
            self._idle.append((time.monotonic(), files))
            surplus = self._idle[: max(len(self._idle) - self.most, 0)]
            del self._idle[: len(surplus)]
            self._reaping()
            self._changed.notify()
        for _, old in surplus:
            old.end()
        return True

    def _reaping(self) -> None:
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(
                target=self._reap, name="nearline-worker-reaper", daemon=True
            )
            self._reaper.start()

    def _reap(self) -> None:
        """End idle workers as their time runs out; stop once none is left."""
        while True:
            with self._changed:
                if not self._idle:
                    self._reaper = None
                    return
                due = self._idle[0][0] + self.idle_s - time.monotonic()
                if due > 0:
                    self._changed.wait(due)
                    continue
                _, files = self._idle.pop(0)
            files.end()


_shared: WorkerPool | None = None
_shared_lock = threading.Lock()


def shared_pool(idle_s: float) -> WorkerPool:
    """The process's pool (made on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = WorkerPool(idle_s)
        return _shared
