"""The service's side of a user's file-system worker (``worker``).

``UserFiles`` starts a worker for one requester and asks it, message by message, to walk,
open, create and finish paths; the answers are values (an outcome per item) and open
descriptors. The service never opens a user's path itself: what it reads or writes, it
reads or writes through a descriptor the worker opened as the user.

The worker is trusted with nothing: the service checks what each descriptor is (a
regular file, the expected size) before using it, and a worker that stops answering
within ``timeout`` seconds is killed and its request fails.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from stores.closing import Closing
from stores.posix.requesters import Requester, check_servable
from stores.posix.wire import MAX_FDS, WireError, path, receive, send, text

# The worker imports only the standard library and this package, from this checkout.
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); del sys.argv[:2];"
    " from stores.posix.worker import main; main(sys.argv)"
)
DEFAULT_TIMEOUT_S = 600.0
EXIT_WAIT_S = 5.0  # a worker told to end (its socket closed) is killed after this


class WorkerFailed(Exception):
    """The worker could not be started, died or stopped answering; the message says why."""


class UserFiles(Closing):
    """A file-system session as ``who``: one worker process, used by one thread at a time
    (calls are serialised by a lock, so threads may share it)."""

    def __init__(self, who: Requester, min_uid: int, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        check_servable(who, min_uid)
        self.who = who
        self._lock = threading.Lock()
        self._pending = False  # a request sent whose last answer is not read yet
        self.keeper: Callable[[UserFiles], bool] | None = None  # takes it back on close
        self._sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock.settimeout(timeout)
        groups = ",".join(str(g) for g in sorted(who.gids))
        argv = [sys.executable, "-I", "-S", "-c", _BOOT, _PROJECT_ROOT]
        argv += [str(child.fileno()), str(who.uid), str(who.primary_gid), groups, who.name]
        try:
            self._process = subprocess.Popen(
                argv,
                pass_fds=[child.fileno()],
                env={},  # nothing of the service's environment, credentials least of all
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                # Its own process group: a SIGTERM to the service's group (a graceful stop)
                # leaves it to finish the work in hand; it ends when the socket closes.
                process_group=0,
            )
        except OSError as error:
            self._sock.close()
            raise WorkerFailed(f"the file-system worker could not be started: {error}") from None
        finally:
            child.close()
        try:
            hello, _ = self._receive()
        except WorkerFailed:
            self.close()
            raise
        if hello.get("uid") != who.uid:
            self.close()
            raise WorkerFailed(f"the file-system worker did not become user {who.name}")

    # -- lifetime -------------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        """Whether another request may use this worker: it answered everything asked of
        it and is alive."""
        return not self._pending and self._sock.fileno() >= 0 and self._process.poll() is None

    def reset(self) -> None:
        """Forget the folders and partial files of the work before (a pool's worker)."""
        self._call({"op": "reset"})

    def close(self) -> None:
        """Done with the worker: back to its keeper if it takes it, else ended."""
        keeper, self.keeper = self.keeper, None
        if keeper is not None and keeper(self):
            return
        self.end()

    def end(self) -> None:
        """End the worker: it exits once its socket is closed."""
        self._sock.close()
        if not _exited_within(self._process, EXIT_WAIT_S):
            self._process.kill()
            self._process.wait()

    # -- PUT ------------------------------------------------------------------------

    def walk(
        self, paths: Sequence[bytes], list_file: bytes | None = None
    ) -> Iterator[dict[str, Any]]:
        """The walk's items (see ``walking``) with paths as bytes; a path list that could
        not be read is one item with ``list``, the reason."""
        with self._lock:
            request = {
                "op": "walk",
                "paths": [text(p) for p in paths],
                "list": None if list_file is None else text(list_file),
            }
            self._send(request)
            while True:
                message, _ = self._receive()
                for item in message["items"]:
                    item["p"] = path(item["p"])
                    if item.get("l") is not None:
                        item["l"] = path(item["l"])
                    yield item
                if message.get("end"):
                    return

    def read_list(self, list_file: bytes) -> tuple[list[bytes], str | None]:
        """The paths in a path list file, one per line, as the user may read it; or why
        it could not be read."""
        message, _ = self._call({"op": "list", "list": text(list_file)})
        return [path(p) for p in message["paths"]], message["reason"]

    def open_for_reading(self, paths: Sequence[bytes]) -> list[int | OSError]:
        """Each path opened as the user (a final link is not followed): a descriptor, now
        the caller's, or the error."""
        results: list[int | OSError] = []
        for start in range(0, len(paths), MAX_FDS):
            chunk = paths[start : start + MAX_FDS]
            message, fds = self._call({"op": "open", "paths": [text(p) for p in chunk]})
            results += _with_fds(message["results"], fds, _oserror)
        return results

    # -- GET ------------------------------------------------------------------------

    def begin_restore(self, target: bytes | None) -> None:
        """Start placing entries below ``target`` (normalised), or in their own places."""
        self._call({"op": "begin", "target": None if target is None else text(target)})

    def make_directories(
        self, folders: Sequence[tuple[bytes, bool]]
    ) -> list[str | tuple[str, str]]:
        """Make each (folder, cataloged), parents first: ``created``, ``reused``, or
        (``refused``, reason)."""
        request = {"op": "dirs", "dirs": [[text(f), cataloged] for f, cataloged in folders]}
        message, _ = self._call(request)
        return [r if isinstance(r, str) else (r[0], r[1]) for r in message["results"]]

    def create_files(
        self, files: Sequence[tuple[bytes, bool, int, int]], linked: Collection[bytes] = ()
    ) -> list[int | str | tuple[str, str]]:
        """A partial file for each (destination, overwrite, size, mtime_ns): a descriptor
        to fill (the caller's), ``already`` (the cataloged file is there), or (``refused``,
        reason). The destinations of ``linked`` (files with hard links to make) get one
        even when their name is taken: their commit refuses the name, and keeps them."""
        results: list[int | str | tuple[str, str]] = []
        for start in range(0, len(files), MAX_FDS):
            chunk = files[start : start + MAX_FDS]
            request = {
                "op": "create",
                "files": [[text(d), o, s, m] for d, o, s, m in chunk],
                "linked": [text(d) for d, _, _, _ in chunk if d in linked],
            }
            message, fds = self._call(request)
            results += _with_fds(
                message["results"], fds, lambda r: r if isinstance(r, str) else (r[0], r[1])
            )
        return results

    def commit_files(
        self, files: Sequence[tuple[bytes, int, int, int, bool]], keep: Collection[bytes] = ()
    ) -> list[str | None]:
        """Finish each filled (destination, mode, mtime_ns, size, overwrite): None, or why
        not. The files of ``keep`` stay open in the worker for ``link_files``, also when
        their own name was taken."""
        rows = [[text(d), mode, mtime, size, over] for d, mode, mtime, size, over in files]
        request = {"op": "commit", "files": rows, "keep": [text(d) for d in keep]}
        message, _ = self._call(request)
        return list(message["results"])

    def link_files(
        self, groups: Sequence[tuple[bytes, int, int, bool, Sequence[tuple[bytes, bool]]]]
    ) -> list[list[str | tuple[str, str]]]:
        """For each (source, size, mtime_ns, kept, links), make every (destination,
        overwrite) of ``links`` a hard link of the file restored at ``source``: the one
        ``commit_files`` kept (``kept``), or one an earlier attempt of the GET put there.
        Per link: ``restored``, ``already`` or (``refused``, reason). Kept files are
        closed once linked."""
        rows = [
            [text(s), size, mtime, kept, [[text(d), over] for d, over in links]]
            for s, size, mtime, kept, links in groups
        ]
        message, _ = self._call({"op": "hardlinks", "groups": rows})
        return [
            [r if isinstance(r, str) else (r[0], r[1]) for r in answers]
            for answers in message["results"]
        ]

    def discard_files(self, destinations: Sequence[bytes]) -> None:
        """Remove the partial files of ``destinations``."""
        self._call({"op": "discard", "files": [text(d) for d in destinations]})

    def make_links(
        self, links: Sequence[tuple[bytes, bytes, int, bool]]
    ) -> list[str | tuple[str, str]]:
        """Make each (destination, link text, mtime_ns, overwrite): ``restored``,
        ``already`` or (``refused``, reason)."""
        rows = [[text(d), text(link), mtime, over] for d, link, mtime, over in links]
        message, _ = self._call({"op": "links", "links": rows})
        return [r if isinstance(r, str) else (r[0], r[1]) for r in message["results"]]

    def finish_directories(self, folders: Sequence[tuple[bytes, int, int]]) -> list[OSError | None]:
        """Give each (directory, mode, mtime_ns) its mode and mtime, in the order given."""
        rows = [[text(d), mode, mtime] for d, mode, mtime in folders]
        message, _ = self._call({"op": "finish", "dirs": rows})
        return [None if r is None else _oserror(r) for r in message["results"]]

    # -- messages -------------------------------------------------------------------

    def _call(self, request: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
        with self._lock:
            self._send(request)
            return self._receive()

    def _send(self, request: dict[str, Any]) -> None:
        self._pending = True
        try:
            send(self._sock, request)
        except OSError as error:
            raise self._failed(f"could not reach it ({error.strerror or error})") from None

    def _receive(self) -> tuple[dict[str, Any], list[int]]:
        try:
            message, fds = receive(self._sock)
        except TimeoutError:
            raise self._failed("it stopped answering") from None
        except (WireError, ValueError, OSError) as error:
            raise self._failed(f"it ended or sent nonsense ({error})") from None
        if "error" in message:
            for fd in fds:
                os.close(fd)
            raise self._failed(str(message["error"]))
        if message.get("end") or message.get("ready"):
            self._pending = False
        return message, fds

    def _failed(self, why: str) -> WorkerFailed:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
        return WorkerFailed(f"the file-system worker of user {self.who.name} failed: {why}")


def _exited_within(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether ``process`` exited (and was reaped) within ``timeout`` seconds. A pidfd
    wakes the wait the moment it exits; ``Popen.wait`` would poll with sleeps."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except OSError:  # already reaped, or a kernel before 5.3
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        waiting = select.poll()  # not select(): a descriptor may be numbered past 1023
        waiting.register(pidfd, select.POLLIN)
        exited = waiting.poll(timeout * 1000)
    finally:
        os.close(pidfd)
    if exited:
        process.wait()
    return bool(exited)


def _with_fds(results: list[Any], fds: list[int], other: Any) -> list[Any]:
    """``results`` with each None replaced by the next descriptor; fails closed (closing
    every descriptor) if their counts disagree."""
    if sum(1 for r in results if r is None) != len(fds):
        for fd in fds:
            os.close(fd)
        raise WireError("descriptors and results disagree")
    given = iter(fds)
    return [next(given) if r is None else other(r) for r in results]


def _oserror(result: list[Any]) -> OSError:
    number = int(result[0]) if result and isinstance(result[0], int) else errno.EIO
    return OSError(number, str(result[1]) if len(result) > 1 else os.strerror(number))
