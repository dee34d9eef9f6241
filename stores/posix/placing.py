"""The writing side of a GET, run inside a user's worker: folders, files, links, metadata.

Everything here runs with the requester's own uid and groups, so the kernel decides
whether they may write each place, and what is made is theirs. Places are reached through
directory descriptors opened once and kept: below a GET's target each folder is opened
from the one above with ``O_NOFOLLOW`` (no component below the target may be a link, as
``openat2``'s ``RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`` would have it); without a target
the folder is opened by its path, following links as the user's own lookup would. Every
later step (create, rename, link, chmod, utime, unlink on failure) is relative to that
descriptor or on the entry's own descriptor, never a full path again.

A file is written as a hidden partial file next to its destination; the service fills
it through a copy of its descriptor, and ``commit`` gives it its mode and mtime and
renames it into place, without replacing anything unless the request overwrites.

Hard links (decision D133): a file committed with ``keep`` stays open, and
``link_files`` gives that very inode its other names with ``linkat`` through
``/proc/self/fd`` (never a path that could have been swapped since), each relative to
its folder's descriptor; the kernel checks the link as for the user's own ``ln``. Only
when an earlier attempt of the same GET put the file in place is it opened again, from
its folder without following links, and only if it is the user's own regular file with
the cataloged size and mtime.

Standard library only (see ``wire``). Over 400 lines as one job: every step of placing a
GET's entries goes through the folder descriptors that ``Places`` opens and keeps, so its
steps (folders, files, commits, hard and symbolic links) stay with it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from dataclasses import dataclass

EXISTS = "exists; use overwrite to replace it"
IS_DIRECTORY = "exists and is a directory"
PARTIAL_SUFFIX = b".nearline-partial"
FILE_MODE_BITS = 0o777  # never set-user-ID or set-group-ID on a restored file
DIRECTORY_MODE_BITS = stat.S_ISGID | stat.S_ISVTX | 0o777
IMPLIED_DIRECTORY_MODE = 0o755
WORKING_DIRECTORY_MODE = 0o700  # a cataloged directory stays private until finished
ALREADY = "already"  # the entry at the destination is the cataloged one (a redelivery)

# Folders are held as O_PATH descriptors: writing into a folder needs write and search
# permission on it, not read, as for the user's own commands.
_DIRECTORY = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_BELOW = _DIRECTORY | os.O_NOFOLLOW
_OPEN_BELOW = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_KEPT_NAME_BYTES = 200  # with the dot, token and suffix a partial name stays within NAME_MAX
_MAX_OPEN_FOLDERS = 512


class Refused(Exception):
    """This entry cannot be placed; the message says why, for the user."""


def shown(where: bytes) -> str:
    return where.decode("utf-8", "backslashreplace")


def cannot(what: str, error: OSError) -> str:
    return f"could not {what}: {error.strerror or error}"


@dataclass
class _Partial:
    folder: int
    name: bytes
    partial: bytes
    fd: int


@dataclass
class _Kept:
    """A committed file kept open for its hard links; ``partial``: its partial name, still
    to remove (when the file could not take its own name), or None."""

    fd: int
    folder: int
    partial: bytes | None


class Places:
    """The folders of one GET (below ``target``, or original places) and its partial files."""

    def __init__(self, target: bytes | None) -> None:
        self.target = target
        self._folders: dict[bytes, int] = {}
        self._failed: dict[bytes, str] = {}
        self._partials: dict[bytes, _Partial] = {}
        self._kept: dict[bytes, _Kept] = {}

    def close(self) -> None:
        for partial in self._partials.values():
            _discard(partial)
        self._partials.clear()
        for kept in self._kept.values():
            _release(kept)
        self._kept.clear()
        for fd in self._folders.values():
            os.close(fd)
        self._folders.clear()

    # -- folders --------------------------------------------------------------------

    def folder(self, directory: bytes) -> int:
        """An open descriptor of ``directory``; raises ``Refused``."""
        if directory in self._failed:
            raise Refused(self._failed[directory])
        fd = self._folders.get(directory)
        if fd is not None:
            return fd
        try:
            fd = self._open(directory)
        except Refused as refused:
            self._failed[directory] = str(refused)
            raise
        if len(self._folders) >= _MAX_OPEN_FOLDERS:
            os.close(self._folders.pop(next(iter(self._folders))))
        self._folders[directory] = fd
        return fd

    def _open(self, directory: bytes) -> int:
        top = self.target
        if top is None or not directory.startswith(top.rstrip(b"/") + b"/"):
            # The target and the folders above it, or an original place: the user's own
            # lookup, following links as theirs would.
            try:
                return os.open(directory, _DIRECTORY)
            except OSError as error:
                raise Refused(_unreachable(directory, error)) from None
        parent, name = directory.rsplit(b"/", 1)
        parent_fd = self.folder(parent or b"/")
        try:
            return os.open(name, _BELOW, dir_fd=parent_fd)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                raise Refused(
                    f"{shown(directory)} is not a directory of the restore (a symbolic link?):"
                    f" nothing is written through it"
                ) from None
            raise Refused(_unreachable(directory, error)) from None

    def make_directory(self, directory: bytes, cataloged: bool) -> str:
        """Make ``directory`` (its parent exists); ``created``, ``reused`` or raises."""
        parent, name = _split(directory)
        parent_fd = self.folder(parent)
        try:
            os.mkdir(name, 0o700, dir_fd=parent_fd)
        except FileExistsError:
            self.folder(directory)  # a real directory (or, in place, a link to one)
            return "reused"
        except OSError as error:
            reason = cannot(f"make {shown(directory)}", error)
            self._failed[directory] = reason
            raise Refused(reason) from None
        try:
            fd = os.open(name, _OPEN_BELOW, dir_fd=parent_fd)
        except OSError as error:  # swapped already (for a link?): never written through
            reason = cannot(f"open {shown(directory)}", error)
            self._failed[directory] = reason
            raise Refused(reason) from None
        try:
            # Made in a set-group-ID folder, it keeps the bit it inherited, as mkdir's
            # would: what is restored in it gets that folder's group too.
            inherited = os.fstat(fd).st_mode & stat.S_ISGID
            mode = WORKING_DIRECTORY_MODE if cataloged else IMPLIED_DIRECTORY_MODE
            os.fchmod(fd, mode | inherited)
        finally:
            os.close(fd)
        return "created"

    def finish_directory(self, directory: bytes, mode: int, mtime_ns: int) -> None:
        """Give ``directory`` (not a link to one) its mode and mtime; raises ``OSError``."""
        parent, name = _split(directory)
        try:
            fd = os.open(name, _OPEN_BELOW, dir_fd=self.folder(parent))
        except Refused:
            raise FileNotFoundError(errno.ENOENT, "gone") from None
        try:
            os.fchmod(fd, mode & DIRECTORY_MODE_BITS)
            os.utime(fd, ns=(os.fstat(fd).st_atime_ns, mtime_ns))
        finally:
            os.close(fd)

    # -- files ----------------------------------------------------------------------

    def create(
        self, dest: bytes, overwrite: bool, size: int, mtime_ns: int, linked: bool = False
    ) -> int | str:
        """A new empty partial file for ``dest``: its descriptor (kept here too), or
        ``ALREADY``; raises ``Refused``. A file with hard links to make (``linked``) gets
        its partial file even when its own name is taken: ``commit`` refuses the name,
        and keeps the file for its links."""
        parent, name = _split(dest)
        folder = self.folder(parent)
        existing = _lstat(folder, name, dest)
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode) and not linked:
                raise Refused(IS_DIRECTORY)
            if not overwrite:
                same = stat.S_ISREG(existing.st_mode) and (
                    (existing.st_size, existing.st_mtime_ns) == (size, mtime_ns)
                )
                if same:
                    return ALREADY
                if not linked:
                    raise Refused(EXISTS)
        partial = _partial_name(name)
        try:
            fd = os.open(partial, _NEW_FILE, 0o600, dir_fd=folder)
        except OSError as error:
            raise Refused(cannot(f"create a file in {shown(parent)}", error)) from None
        self._partials[dest] = _Partial(folder, name, partial, fd)
        return fd

    def commit(
        self, dest: bytes, mode: int, mtime_ns: int, size: int, overwrite: bool, keep: bool = False
    ) -> None:
        """Give the filled partial file of ``dest`` its mode and mtime and move it into
        place; raises ``Refused`` (and removes the partial file). With ``keep`` the file
        stays open for ``link_files``, also when only its name was taken (``EXISTS``)."""
        entry = self._partials.pop(dest, None)
        if entry is None:
            raise Refused("no file was being written there")
        if keep:
            self._release(dest)
        try:
            st = os.fstat(entry.fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size != size:
                raise Refused(f"{shown(dest)} was changed before it could be finished")
            os.fchmod(entry.fd, mode & FILE_MODE_BITS)
            os.utime(entry.fd, ns=(st.st_atime_ns, mtime_ns))
            if overwrite:
                os.replace(
                    entry.partial, entry.name, src_dir_fd=entry.folder, dst_dir_fd=entry.folder
                )
            else:  # link(2) never replaces: whatever appeared meanwhile is kept
                os.link(
                    entry.partial,
                    entry.name,
                    src_dir_fd=entry.folder,
                    dst_dir_fd=entry.folder,
                    follow_symlinks=False,
                )
        except (FileExistsError, IsADirectoryError) as error:
            # The data and metadata are right, only the name is taken: its hard links may
            # still be made of it, through its partial name's inode.
            if keep:
                self._kept[dest] = _Kept(entry.fd, entry.folder, entry.partial)
            else:
                _discard(entry)
            raise Refused(EXISTS if isinstance(error, FileExistsError) else IS_DIRECTORY) from None
        except OSError as error:
            _discard(entry)
            raise Refused(cannot("finish the file", error)) from None
        except Refused:
            _discard(entry)
            raise
        if not overwrite:
            _unlink(entry.folder, entry.partial)  # in place under its own name
        if keep:
            self._kept[dest] = _Kept(entry.fd, entry.folder, None)
        else:
            os.close(entry.fd)

    def discard(self, dest: bytes) -> None:
        entry = self._partials.pop(dest, None)
        if entry is not None:
            _discard(entry)

    # -- hard links -----------------------------------------------------------------

    def link_files(
        self,
        source: bytes,
        size: int,
        mtime_ns: int,
        kept: bool,
        links: list[tuple[bytes, bool]],
    ) -> list[str | Refused]:
        """Make each (destination, overwrite) of ``links`` a hard link of the file
        restored for ``source``: the one ``commit`` kept (``kept``), or else the one an
        earlier attempt put there. ``restored``, ``ALREADY`` or the refusal, for each."""
        held = self._kept.pop(source, None)
        try:
            if held is not None:
                fd = held.fd
            elif kept:
                raise Refused(f"{shown(source)}, which it is a hard link of, was not restored")
            else:
                fd = self._restored_earlier(source, size, mtime_ns)
            try:
                results: list[str | Refused] = []
                for dest, overwrite in links:
                    try:
                        results.append(self._link_one(fd, dest, size, mtime_ns, overwrite))
                    except Refused as refused:
                        results.append(refused)
                return results
            finally:
                if held is None:
                    os.close(fd)
        except Refused as refused:
            return [refused for _ in links]
        finally:
            if held is not None:
                _release(held)

    def _release(self, dest: bytes) -> None:
        held = self._kept.pop(dest, None)
        if held is not None:
            _release(held)

    def _restored_earlier(self, source: bytes, size: int, mtime_ns: int) -> int:
        """An ``O_PATH`` descriptor of the file at ``source``, if it is the user's own
        regular file with the cataloged size and mtime; raises ``Refused``."""
        parent, name = _split(source)
        try:
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.folder(parent))
        except OSError as error:
            raise Refused(
                cannot(f"open {shown(source)}, which it is a hard link of", error)
            ) from None
        st = os.fstat(fd)
        if not (
            stat.S_ISREG(st.st_mode)
            and st.st_uid == os.geteuid()
            and (st.st_size, st.st_mtime_ns) == (size, mtime_ns)
        ):
            os.close(fd)
            raise Refused(
                f"{shown(source)}, which it is a hard link of, is not the file restored there"
            )
        return fd

    def _link_one(self, fd: int, dest: bytes, size: int, mtime_ns: int, overwrite: bool) -> str:
        parent, name = _split(dest)
        folder = self.folder(parent)
        existing = _lstat(folder, name, dest)
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode):
                raise Refused(IS_DIRECTORY)
            source = os.fstat(fd)
            if (existing.st_dev, existing.st_ino) == (source.st_dev, source.st_ino):
                return ALREADY
            if not overwrite:
                same = stat.S_ISREG(existing.st_mode) and (
                    (existing.st_size, existing.st_mtime_ns) == (size, mtime_ns)
                )
                if same:
                    return ALREADY
                raise Refused(EXISTS)
        made = _partial_name(name) if existing is not None else name
        try:
            # The magic link names the open inode itself: the kernel links exactly that
            # file, as the user (fs.protected_hardlinks applies), wherever it is now.
            os.link(f"/proc/self/fd/{fd}", made, dst_dir_fd=folder, follow_symlinks=True)
        except FileExistsError:
            raise Refused(EXISTS) from None
        except OSError as error:
            raise Refused(cannot("make the hard link", error)) from None
        if made != name:
            try:
                os.replace(made, name, src_dir_fd=folder, dst_dir_fd=folder)
            except OSError as error:
                _unlink(folder, made)
                raise Refused(cannot("finish the hard link", error)) from None
        return "restored"

    # -- links ----------------------------------------------------------------------

    def link(self, dest: bytes, target_text: bytes, mtime_ns: int, overwrite: bool) -> str:
        """Make the symlink ``dest`` with its original target text and mtime: ``restored``
        or ``ALREADY``; raises ``Refused``."""
        parent, name = _split(dest)
        folder = self.folder(parent)
        existing = _lstat(folder, name, dest)
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode):
                raise Refused(IS_DIRECTORY)
            if not overwrite:
                if stat.S_ISLNK(existing.st_mode) and _readlink(folder, name) == target_text:
                    return ALREADY
                raise Refused(EXISTS)
        made = _partial_name(name) if existing is not None else name
        try:
            os.symlink(target_text, made, dir_fd=folder)
        except FileExistsError:
            raise Refused(EXISTS) from None
        except OSError as error:
            raise Refused(cannot("make the link", error)) from None
        try:
            atime = os.stat(made, dir_fd=folder, follow_symlinks=False).st_atime_ns
            os.utime(made, ns=(atime, mtime_ns), dir_fd=folder, follow_symlinks=False)
            if made != name:
                os.replace(made, name, src_dir_fd=folder, dst_dir_fd=folder)
        except OSError as error:
            _unlink(folder, made)
            raise Refused(cannot("finish the link", error)) from None
        return "restored"


def _split(where: bytes) -> tuple[bytes, bytes]:
    parent, name = where.rsplit(b"/", 1)
    if not name or name in (b".", b".."):
        raise Refused(f"{shown(where)} cannot be restored: not a name")
    return parent or b"/", name


def _lstat(folder: int, name: bytes, where: bytes) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise Refused(f"{shown(where)} could not be looked up: {error.strerror or error}") from None


def _readlink(folder: int, name: bytes) -> bytes | None:
    try:
        return os.readlink(name, dir_fd=folder)
    except OSError:
        return None


def _partial_name(name: bytes) -> bytes:
    token = secrets.token_hex(4).encode()
    return b"." + name[:_KEPT_NAME_BYTES] + b"." + token + PARTIAL_SUFFIX


def _discard(entry: _Partial) -> None:
    os.close(entry.fd)
    _unlink(entry.folder, entry.partial)


def _release(kept: _Kept) -> None:
    os.close(kept.fd)
    if kept.partial is not None:
        _unlink(kept.folder, kept.partial)


def _unlink(folder: int, name: bytes) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=folder)


def _unreachable(directory: bytes, error: OSError) -> str:
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"{shown(directory)} does not exist or is not a directory"
    if error.errno == errno.EACCES:
        return f"no permission to reach directory {shown(directory)}"
    return f"{shown(directory)} could not be opened: {error.strerror or error}"
