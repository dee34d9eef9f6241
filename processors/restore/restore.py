"""Planning a GET on disk, and the steps that carry the plan out, in their order.

``plan`` decides, before anything is written, which cataloged entries can be restored and
refuses the others with a reason for the user: unsafe paths, places the requester may not
write, and existing entries that are not to be replaced. Then ``apply`` (or its steps, for
a caller that downloads in its own way) works in this order:

1. ``make_directories``: every folder the entries need, created for the requester;
2. the files: ``fetch`` (a verified download next to the destination, renamed into
   place) then ``finish_file``;
3. ``restore_link`` for the links, after the files, so nothing is ever written through
   a link this restore made;
4. ``finish_directories``: cataloged modes and mtimes, last and deepest first, because
   writing into a directory changes its mtime.

An existing directory is reused as it is: its owner, mode and mtime are left alone, only
directories this restore makes get their catalog metadata. See ``metadata`` for who owns
what is restored. Every outcome is a value, never an exception: a batch of thousands of
files reports each file's fate.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from events.catalog import CatalogedFile, FileFailure
from processors.indexing.access import Requester
from processors.indexing.lookup import parent_of, printable
from processors.indexing.walk import DIRECTORY, FILE, LINK
from processors.restore.metadata import (
    NotOurs,
    Owner,
    new_directory,
    requester_owner,
    set_directory_metadata,
    set_file_metadata,
    set_link_metadata,
)
from processors.restore.permissions import Writability
from processors.restore.placement import (
    UnsafePath,
    check_no_symlink_escape,
    check_trusted_links,
    destination,
    normal_directory,
    open_folder,
    strictly_below,
)
from processors.transfer.outcomes import Failure, Stored
from processors.transfer.verified_files import partial_path

EXISTS = "exists; use overwrite to replace it"
IMPLIED_DIRECTORY_MODE = 0o755
# A cataloged directory stays private to its owner until its contents are in place.
WORKING_DIRECTORY_MODE = 0o700


@dataclass(frozen=True)
class RestoreRequest:
    """What every placement of one GET shares: where to, for whom, and if replacing is ok."""

    target: bytes | None  # normalised; None: back to the original places
    who: Requester
    owner: Owner  # the requester's uid and primary group
    overwrite: bool


@dataclass(frozen=True)
class Placement:
    """A cataloged entry to restore at ``destination``."""

    entry: CatalogedFile
    destination: bytes
    request: RestoreRequest

    @property
    def path(self) -> bytes:
        return self.entry["path"]

    @property
    def owner(self) -> Owner:
        """Original owner in the original place, the requester under a target directory."""
        if self.request.target is None:
            return Owner(self.entry["uid"], self.entry["gid"])
        return self.request.owner


@dataclass(frozen=True)
class Refusal:
    """A cataloged entry not restored, and why; ``retryable`` if a later try may succeed."""

    path: bytes
    reason: str
    retryable: bool = False

    def as_file_failure(self) -> FileFailure:
        return FileFailure(path=self.path, reason=self.reason, retryable=self.retryable)


@dataclass(frozen=True)
class Restored:
    """A cataloged entry restored at ``destination``; ``size``: the bytes written."""

    path: bytes
    destination: bytes
    size: int = 0


class RestorePlan(NamedTuple):
    """What a GET will restore and what it refused; unpacks as (placements, refusals)."""

    placements: list[Placement]
    refusals: list[Refusal]

    def of_type(self, path_type: str) -> list[Placement]:
        return [p for p in self.placements if p.entry["path_type"] == path_type]


class Downloader(Protocol):
    """What restoring needs of ``ObjectStore``: ``target`` is a name in ``dir_fd``."""

    def download(
        self,
        key: str,
        target: bytes,
        expected_sha256: str,
        expected_size: int,
        dir_fd: int | None = None,
    ) -> Stored | Failure: ...


# -- planning --------------------------------------------------------------------------


def plan(
    files: Sequence[CatalogedFile],
    target: bytes | None,
    who: Requester,
    overwrite: bool,
    *,
    group: int | None = None,
) -> RestorePlan:
    """Where each of ``files`` goes (below ``target``, or in place) and what is refused.

    Checks are made as ``who``, never as the service. ``group`` is the gid the requester's
    new entries get (default: their primary group). Raises ``UnsafePath`` for an unsafe
    ``target``, as then nothing can be restored, and ``ValueError`` when the requester's
    primary group cannot be told (see ``requester_owner``).
    """
    request = RestoreRequest(
        None if target is None else normal_directory(target),
        who,
        requester_owner(who, group),
        overwrite,
    )
    candidates, refusals = _placed(files, request)
    # Entries below something restored as a file or link would be written through it.
    not_folders = {p.destination: p for p in candidates if p.entry["path_type"] != DIRECTORY}
    writability = Writability(who, request.target)
    placements = []
    for placement in candidates:
        reason = _blocked_by(placement.destination, not_folders) or _problem(placement, writability)
        if reason is None:
            placements.append(placement)
        else:
            refusals.append(Refusal(placement.path, reason))
    return RestorePlan(placements, refusals)


def _placed(
    files: Sequence[CatalogedFile], request: RestoreRequest
) -> tuple[list[Placement], list[Refusal]]:
    """Each file at its destination, refusing unsafe paths, duplicates, missing copies."""
    placements: list[Placement] = []
    refusals: list[Refusal] = []
    taken: set[bytes] = set()
    for entry in files:
        try:
            dest = destination(entry["path"], request.target)
        except UnsafePath as unsafe:
            refusals.append(Refusal(entry["path"], unsafe.reason))
            continue
        reason = _incomplete(entry)
        if reason is None and dest in taken:
            reason = "another entry of this request is restored to the same place"
        if reason is not None:
            refusals.append(Refusal(entry["path"], reason))
            continue
        taken.add(dest)
        placements.append(Placement(entry, dest, request))
    return placements, refusals


def _incomplete(entry: CatalogedFile) -> str | None:
    kind = entry["path_type"]
    if kind == FILE and not (entry["object_key"] and entry["sha256"]):
        return "the catalog has no stored copy of this file"
    if kind == LINK and not entry["link_path"]:
        return "the catalog has no target for this link"
    if kind not in (FILE, DIRECTORY, LINK):
        return f"cannot restore an entry of type {kind}"
    return None


def _blocked_by(dest: bytes, not_folders: dict[bytes, Placement]) -> str | None:
    folder = parent_of(dest)
    while folder != b"/":
        if folder in not_folders:
            kind = "a symbolic link" if not_folders[folder].entry["path_type"] == LINK else "a file"
            return f"{printable(folder)} is restored as {kind}, not a directory"
        folder = parent_of(folder)
    return None


def _problem(placement: Placement, writability: Writability) -> str | None:
    """Why ``placement`` cannot be made, judged from the disk as it is now; None if it can."""
    reason = unsafe_place(placement)
    if reason is not None:
        return reason
    dest = placement.destination
    try:
        st = os.lstat(dest)
    except (FileNotFoundError, NotADirectoryError):
        return writability.denial(dest)
    except OSError as exc:
        return f"{printable(dest)} could not be looked up: {exc.strerror or exc}"
    is_directory = placement.entry["path_type"] == DIRECTORY
    if is_directory != stat.S_ISDIR(st.st_mode):
        return "exists and is a directory" if not is_directory else "exists and is not a directory"
    if not is_directory and not placement.request.overwrite:
        return EXISTS
    return writability.denial(dest)


def unsafe_place(placement: Placement) -> str | None:
    """Why writing ``placement`` now could leave its place (links on disk); None if safe.

    Made when planning and again right before each write.
    """
    request = placement.request
    try:
        if request.target is None:
            check_trusted_links(placement.destination, request.who)
        else:
            check_no_symlink_escape(placement.destination, request.target)
    except UnsafePath as unsafe:
        return unsafe.reason
    except OSError as exc:
        return f"{printable(placement.destination)} could not be checked: {exc.strerror or exc}"
    return None


# -- directories -----------------------------------------------------------------------


@dataclass
class Directories:
    """The folders made for a plan: which are new (their metadata is ours) and which failed."""

    created: list[Placement] = field(default_factory=list)  # cataloged directories made
    reused: list[Placement] = field(default_factory=list)  # cataloged ones already there
    refused: list[Refusal] = field(default_factory=list)  # cataloged ones not made
    failed: dict[bytes, str] = field(default_factory=dict)  # any folder not made, and why
    ready: set[bytes] = field(default_factory=set)

    def problem(self, dest: bytes) -> str | None:
        """Why a folder above ``dest`` is missing, if making it failed."""
        folder = parent_of(dest)
        while True:
            if folder in self.failed:
                return self.failed[folder]
            if folder == b"/":
                return None
            folder = parent_of(folder)


def make_directories(placements: Sequence[Placement]) -> Directories:
    """Make every folder ``placements`` need, and the cataloged directories among them.

    Missing folders are created top-down for the requester: cataloged ones private to
    them (``WORKING_DIRECTORY_MODE``) until ``finish_directories``, implied ones with
    ``IMPLIED_DIRECTORY_MODE`` for good. Below a target directory, a folder found to be
    a symlink is not used (it was not one when planning).
    """
    made = Directories()
    cataloged = {p.destination: p for p in placements if p.entry["path_type"] == DIRECTORY}
    for placement in placements:
        chain = _folders_of(placement.destination)
        if placement.entry["path_type"] == DIRECTORY:
            chain.append(placement.destination)
        for folder in chain:
            if folder not in made.ready and folder not in made.failed:
                _ensure(folder, cataloged.get(folder), placement.request, made)
    made.refused = [
        Refusal(p.path, made.failed[p.destination])
        for p in cataloged.values()
        if p.destination in made.failed
    ]
    return made


def _folders_of(dest: bytes) -> list[bytes]:
    """The folders above ``dest``, top-down, without the root."""
    folders = []
    folder = parent_of(dest)
    while folder != b"/":
        folders.append(folder)
        folder = parent_of(folder)
    return folders[::-1]


def _ensure(
    folder: bytes, entry: Placement | None, request: RestoreRequest, made: Directories
) -> None:
    """Make ``folder`` (its parent is done) or check the one there; record what happened."""
    parent = parent_of(folder)
    if parent in made.failed:
        made.failed[folder] = made.failed[parent]
        return
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        mode = IMPLIED_DIRECTORY_MODE if entry is None else WORKING_DIRECTORY_MODE
        try:
            new_directory(folder, mode, request.owner)
        except OSError as exc:
            made.failed[folder] = _cannot(f"make {printable(folder)}", exc)
            return
        if entry is not None:
            made.created.append(entry)
    except OSError as exc:
        made.failed[folder] = f"{printable(folder)} could not be looked up: {exc.strerror or exc}"
        return
    else:
        if not _usable_folder(folder, st, request):
            made.failed[folder] = f"{printable(folder)} is not a directory this restore may use"
            return
        if entry is not None:
            made.reused.append(entry)
    made.ready.add(folder)


def _usable_folder(folder: bytes, st: os.stat_result, request: RestoreRequest) -> bool:
    if stat.S_ISDIR(st.st_mode):
        return True
    if not stat.S_ISLNK(st.st_mode):
        return False
    if request.target is not None and strictly_below(folder, request.target):
        return False
    # Links above the target, or on the way to an original place, were judged when planning.
    return os.path.isdir(folder)


def finish_directories(made: Directories) -> list[Restored | Refusal]:
    """Give the cataloged directories the restore made their owner, mode and mtime.

    Call it once every file and link is in place, since writing into a directory changes
    its mtime. Deepest first, so each directory is finished only after all inside it.
    Reused directories are reported restored, untouched; those not made, refused.
    """
    outcomes: list[Restored | Refusal] = []
    for placement in deepest_first(made.created):
        entry = placement.entry
        try:
            set_directory_metadata(
                placement.destination, entry["mode"], entry["mtime_ns"], placement.owner
            )
        except OSError as exc:
            outcomes.append(Refusal(placement.path, _cannot("finish the directory", exc)))
            continue
        outcomes.append(Restored(placement.path, placement.destination))
    outcomes.extend(Restored(p.path, p.destination) for p in made.reused)
    outcomes.extend(made.refused)
    return outcomes


def deepest_first(placements: Sequence[Placement]) -> list[Placement]:
    """``placements`` ordered so that every directory comes before its parent."""
    return sorted(placements, key=lambda p: p.destination.count(b"/"), reverse=True)


# -- files and links -------------------------------------------------------------------


def fetch(store: Downloader, placement: Placement, made: Directories) -> Stored | Failure:
    """Download the file of ``placement`` into place, if its folder and path are still fine.

    The store writes a hidden partial file next to the destination and renames it into
    place only once verified, so a failure leaves nothing (and an existing file as it was).
    Both are done relative to the destination's folder, opened once without following
    links below the target (``open_folder``): a folder swapped for a link after the
    checks cannot redirect the write.
    """
    reason = made.problem(placement.destination) or unsafe_place(placement)
    if reason is not None:
        return Failure(reason, False)
    entry = placement.entry
    key, sha256 = entry["object_key"], entry["sha256"]
    if key is None or sha256 is None:  # refused by plan already
        return Failure("the catalog has no stored copy of this file", False)
    try:
        folder = open_folder(placement.destination, placement.request.target)
    except UnsafePath as unsafe:
        return Failure(unsafe.reason, False)
    except OSError as exc:
        where = printable(parent_of(placement.destination))
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return Failure(f"{where} is no longer a directory of the restore (a link?)", False)
        return Failure(f"{where} could not be opened: {exc.strerror or exc}", False)
    try:
        name = os.path.basename(placement.destination)
        return store.download(key, name, sha256, entry["size"], dir_fd=folder)
    finally:
        os.close(folder)


def finish_file(placement: Placement, downloaded: Stored | Failure) -> Restored | Refusal:
    """Give a downloaded file its mode, mtime and owner; or report why it is not there.

    If the metadata cannot be set the file is removed: a file left owned by the service,
    unreadable by the requester, is not a restored file (a file it replaced is gone
    already). A file that is no longer the one downloaded is left alone.
    """
    if isinstance(downloaded, Failure):
        return Refusal(placement.path, downloaded.reason, downloaded.retryable)
    entry, dest = placement.entry, placement.destination
    try:
        set_file_metadata(dest, entry["mode"], entry["mtime_ns"], placement.owner, downloaded.size)
    except NotOurs as changed:
        return Refusal(placement.path, str(changed))
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(dest)
        return Refusal(placement.path, _cannot("finish the file", exc))
    return Restored(placement.path, dest, downloaded.size)


def restore_link(placement: Placement, made: Directories | None = None) -> Restored | Refusal:
    """Recreate the symlink with its original target text; links are never followed.

    Dangling links and loops come back as they were. An existing entry (not a directory)
    is replaced only when the request allows overwriting, atomically: a new link is made
    next to it and renamed over it.
    """
    entry, dest = placement.entry, placement.destination
    reason = (made.problem(dest) if made else None) or unsafe_place(placement)
    if reason is not None:
        return Refusal(placement.path, reason)
    link = entry["link_path"]
    if not link:  # refused by plan already
        return Refusal(placement.path, "the catalog has no target for this link")
    replace = placement.request.overwrite and os.path.lexists(dest)
    made_at = partial_path(dest) if replace else dest
    try:
        os.symlink(link, made_at)
    except FileExistsError:
        return Refusal(placement.path, EXISTS)
    except OSError as exc:
        return Refusal(placement.path, _cannot("make the link", exc))
    try:
        set_link_metadata(made_at, entry["mtime_ns"], placement.owner)
        if replace:
            os.replace(made_at, dest)  # refused by the kernel over a directory
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(made_at)
        return Refusal(placement.path, _cannot("finish the link", exc))
    return Restored(placement.path, dest)


def apply(planned: RestorePlan, store: Downloader) -> list[Restored | Refusal]:
    """Carry ``planned`` out, one file after the other: an outcome for each placement.

    Directories, then files, then links, then directory metadata. Callers wanting
    concurrent downloads run the same steps themselves, fetching files in parallel.
    """
    made = make_directories(planned.placements)
    outcomes: list[Restored | Refusal] = []
    for placement in planned.of_type(FILE):
        outcomes.append(finish_file(placement, fetch(store, placement, made)))
    outcomes.extend(restore_link(placement, made) for placement in planned.of_type(LINK))
    outcomes.extend(finish_directories(made))
    return outcomes


def _cannot(what: str, exc: OSError) -> str:
    return f"could not {what}: {exc.strerror or exc}"
