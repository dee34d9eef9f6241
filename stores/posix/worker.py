"""A user's file-system worker: the only process that opens a user's paths.

The service starts it as root with a clean environment, on a socket pair; before it reads
a single request it takes the requester's groups, gid and uid for good (``setgroups``,
``setresgid``, ``setresuid``), makes itself not dumpable and unable to gain privileges,
and checks it cannot become root again. From then on the kernel checks every access as it
would for the user. It holds no service credential (it never saw one) and hands the
files it opens or creates to the service as descriptors (``SCM_RIGHTS``).

Requests and answers are ``wire`` messages; an answer names its outcome per item, so one
bad path never fails the others. The worker ends when the service closes the socket, and
only then: it runs in a process group of its own and ignores SIGTERM and SIGINT, so that
a graceful stop of its service (a signal to the service's group or unit) finishes the
work in hand through it instead of failing it.

Standard library only (see ``wire``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
from typing import Any

from stores.posix import placing, walking
from stores.posix.wire import MAX_FDS, WireError, path, receive, send, text

PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
WALK_BATCH = 1000


def become(uid: int, gid: int, groups: list[int]) -> None:
    """Take the user's credentials for good, or exit."""
    if os.geteuid() == 0:
        os.setgroups(groups)
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    libc = ctypes.CDLL(None, use_errno=True)
    if (
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0
        or libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
    ):
        raise SystemExit("nearline worker: prctl failed")
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
        raise SystemExit("nearline worker: could not take the user's ids")
    if uid != 0:
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise SystemExit("nearline worker: could become root again")
    os.umask(0o077)


class Worker:
    def __init__(self, sock: socket.socket, user: str) -> None:
        self.sock = sock
        self.user = user
        self.places: placing.Places | None = None

    def serve(self) -> None:
        send(
            self.sock,
            {
                "ready": True,
                "uid": os.getuid(),
                "gid": os.getgid(),
                "groups": sorted(os.getgroups()),
            },
        )
        while True:
            try:
                request, fds = receive(self.sock)
            except WireError:
                return
            for fd in fds:  # the service never sends descriptors
                os.close(fd)
            handler = getattr(self, "op_" + str(request.get("op")), None)
            if handler is None:
                send(self.sock, {"error": f"unknown operation {request.get('op')!r}"})
                continue
            handler(request)

    def op_walk(self, request: dict[str, Any]) -> None:
        paths = [path(p) for p in request["paths"]]
        batch: list[Any] = []
        if request.get("list") is not None:
            listed, reason = walking.read_list(path(request["list"]))
            if reason is not None:
                batch.append({"p": request["list"], "list": reason})
            paths += listed
        for item in walking.walk(paths, self.user):
            batch.append(item)
            if len(batch) >= WALK_BATCH:
                send(self.sock, {"items": batch})
                batch = []
        send(self.sock, {"items": batch, "end": True})

    def op_list(self, request: dict[str, Any]) -> None:
        listed, reason = walking.read_list(path(request["list"]))
        send(self.sock, {"paths": [text(p) for p in listed], "reason": reason, "end": True})

    def op_open(self, request: dict[str, Any]) -> None:
        """Open each path for reading (never following a final link): a descriptor for
        each success, in order, and an errno for each failure."""
        results: list[list[Any] | None] = []
        fds: list[int] = []
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        for name in request["paths"][:MAX_FDS]:
            try:
                fds.append(os.open(path(name), flags))
                results.append(None)
            except OSError as error:
                results.append([error.errno, error.strerror or str(error)])
        try:
            send(self.sock, {"results": results, "end": True}, fds)
        finally:
            for fd in fds:
                os.close(fd)

    def op_begin(self, request: dict[str, Any]) -> None:
        if self.places is not None:
            self.places.close()
        target = request.get("target")
        self.places = placing.Places(None if target is None else path(target))
        send(self.sock, {"end": True})

    def op_dirs(self, request: dict[str, Any]) -> None:
        places = self._places()
        results: list[Any] = []
        for where, cataloged in request["dirs"]:
            try:
                results.append(places.make_directory(path(where), cataloged))
            except placing.Refused as refused:
                results.append(["refused", str(refused)])
        send(self.sock, {"results": results, "end": True})

    def op_create(self, request: dict[str, Any]) -> None:
        places = self._places()
        results: list[Any] = []
        fds: list[int] = []
        linked = {path(where) for where in request.get("linked", [])}
        for where, overwrite, size, mtime_ns in request["files"][:MAX_FDS]:
            dest = path(where)
            try:
                made = places.create(dest, overwrite, size, mtime_ns, linked=dest in linked)
            except placing.Refused as refused:
                results.append(["refused", str(refused)])
                continue
            if isinstance(made, int):
                fds.append(made)
                results.append(None)
            else:
                results.append(made)
        send(self.sock, {"results": results, "end": True}, fds)

    def op_commit(self, request: dict[str, Any]) -> None:
        places = self._places()
        keep = {path(where) for where in request.get("keep", [])}
        results: list[Any] = []
        for where, mode, mtime_ns, size, overwrite in request["files"]:
            dest = path(where)
            try:
                places.commit(dest, mode, mtime_ns, size, overwrite, keep=dest in keep)
                results.append(None)
            except placing.Refused as refused:
                results.append(str(refused))
        send(self.sock, {"results": results, "end": True})

    def op_discard(self, request: dict[str, Any]) -> None:
        places = self._places()
        for where in request["files"]:
            places.discard(path(where))
        send(self.sock, {"end": True})

    def op_hardlinks(self, request: dict[str, Any]) -> None:
        """Per source file, per link: ``restored``, ``already`` or [``refused``, reason]."""
        places = self._places()
        results: list[Any] = []
        for source, size, mtime_ns, kept, links in request["groups"]:
            made = places.link_files(
                path(source), size, mtime_ns, kept, [(path(d), over) for d, over in links]
            )
            results.append(
                [["refused", str(r)] if isinstance(r, placing.Refused) else r for r in made]
            )
        send(self.sock, {"results": results, "end": True})

    def op_links(self, request: dict[str, Any]) -> None:
        places = self._places()
        results: list[Any] = []
        for where, target_text, mtime_ns, overwrite in request["links"]:
            try:
                results.append(places.link(path(where), path(target_text), mtime_ns, overwrite))
            except placing.Refused as refused:
                results.append(["refused", str(refused)])
        send(self.sock, {"results": results, "end": True})

    def op_finish(self, request: dict[str, Any]) -> None:
        places = self._places()
        results: list[Any] = []
        for where, mode, mtime_ns in request["dirs"]:
            try:
                places.finish_directory(path(where), mode, mtime_ns)
                results.append(None)
            except OSError as error:
                results.append([error.errno, error.strerror or str(error)])
        send(self.sock, {"results": results, "end": True})

    def op_reset(self, request: dict[str, Any]) -> None:
        """The work before is over: its folders and partial files are let go."""
        if self.places is not None:
            self.places.close()
            self.places = None
        send(self.sock, {"end": True})

    def _places(self) -> placing.Places:
        if self.places is None:
            self.places = placing.Places(None)
        return self.places


def main(argv: list[str]) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)
    fd, uid, gid = int(argv[0]), int(argv[1]), int(argv[2])
    groups = [int(g) for g in argv[3].split(",") if g]
    user = argv[4]
    become(uid, gid, groups)
    sock = socket.socket(fileno=fd)
    Worker(sock, user).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
