"""Planning a GET on disk, and carrying the plan out through the requester's own worker.

``plan`` decides, from the catalog alone, where each entry goes and refuses what can never
be restored: unsafe paths, two entries for one place, entries below something restored as
a file or link, entries the catalog has no copy of. Everything on disk is then done by
the requester's file-system worker (``stores.posix``), with their uid and groups, so the
kernel decides what they may write and what is made is theirs; the service only fills
the files the worker creates, through their descriptors. ``restore`` works in this order:

1. every folder the entries need, parents first: cataloged ones private to the requester
   until step 4, implied ones 0755 for good; an existing directory is reused as it is;
2. the files: the worker creates a hidden partial file next to each destination, the
   service downloads into it and verifies it, the worker gives it its mode and mtime and
   renames it into place (never over an existing entry unless the request overwrites);
   the other files of its link group (decision D133) are then made hard links of that
   very file by the worker, through the descriptor it kept open;
3. the links, after the files, with their original target text and mtime;
4. the cataloged directories it made get their mode and mtime, deepest first.

Restored entries belong to the requester, wherever they go: set-id bits never come back
on a file. Every outcome is a value, never an exception: a batch of thousands of files
reports each file's fate. Planning and carrying out stay in one module of about 450
lines because the plan's types are the steps' inputs, one to one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import NamedTuple, Protocol

from domain.pack_keys import Slice, slice_of
from events.catalog import CatalogedFile, FileFailure, hard_link_of
from processors.transfer_get.placement import UnsafePath, destination, normal_directory
from stores.durability import BatchSync, Durability
from stores.failures import download_failure, target_full
from stores.outcomes import NO_TALLY, Failure, Stored, Tally
from stores.posix.lookup import parent_of, printable
from stores.posix.placing import ALREADY, EXISTS, IS_DIRECTORY
from stores.posix.requesters import Requester
from stores.posix.session import UserFiles
from stores.posix.walking import DIRECTORY, FILE, LINK
from stores.s3.object_store import RunTarget
from stores.tape.cache_reading import RUN_BYTES, RUN_GAP

__all__ = ["EXISTS", "plan", "restore"]

DEFAULT_CONCURRENCY = 16  # files in flight: small files are latency-bound
FILES_AT_ONCE = 64  # partial files open at once (descriptors held in both processes)


@dataclass(frozen=True)
class RestoreRequest:
    """What every placement of one GET shares: where to, for whom, and if replacing is ok."""

    target: bytes | None  # normalised; None: back to the original places
    who: Requester
    overwrite: bool


@dataclass(frozen=True)
class Placement:
    """A cataloged entry to restore at ``destination``; ``links``: the placements of a
    regular file's link group to be made hard links of it (D133)."""

    entry: CatalogedFile
    destination: bytes
    request: RestoreRequest
    links: tuple[Placement, ...] = ()

    @property
    def path(self) -> bytes:
        return self.entry["path"]


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

    def to_fetch(self) -> list[Placement]:
        """The regular files restored from their copies: not those made hard links."""
        return [p for p in self.of_type(FILE) if hard_link_of(p.entry) is None]


class Filler(Protocol):
    """What restoring needs of a copy's store (``ObjectStore``, or a staged aggregate:
    ``StagedAggregate``): write an object, or a run of slices of a pack, into open files."""

    def slice_of(self, key: str) -> Slice | None: ...

    def download_into(
        self, key: str, fd: int, expected_sha256: str, expected_size: int, durable: bool = True
    ) -> Stored | Failure: ...

    def download_run_into(
        self, pack: str, into: Sequence[RunTarget], durable: bool = True
    ) -> list[Stored | Failure]: ...


@dataclass
class Outcomes:
    """Each placement's outcome, and the cataloged directories the restore made."""

    results: list[Restored | Refusal] = field(default_factory=list)
    created: list[Placement] = field(default_factory=list)


# -- planning --------------------------------------------------------------------------


def plan(
    files: Sequence[CatalogedFile], target: bytes | None, who: Requester, overwrite: bool
) -> RestorePlan:
    """Where each of ``files`` goes (below ``target``, or in place) and what is refused.

    Raises ``UnsafePath`` for an unsafe ``target``, as then nothing can be restored.
    """
    request = RestoreRequest(None if target is None else normal_directory(target), who, overwrite)
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
    # Entries below something restored as a file or link would be written through it.
    not_folders = {p.destination: p for p in placements if p.entry["path_type"] != DIRECTORY}
    kept = []
    for placement in placements:
        reason = _blocked_by(placement.destination, not_folders)
        if reason is None:
            kept.append(placement)
        else:
            refusals.append(Refusal(placement.path, reason))
    return _with_hard_links(kept, refusals)


def _with_hard_links(placements: list[Placement], refusals: list[Refusal]) -> RestorePlan:
    """Each file to fetch with the placements to be made hard links of it; those whose
    file this plan does not fetch (or holds other content) are refused."""
    followers: dict[bytes, list[Placement]] = {}
    for placement in placements:
        of = hard_link_of(placement.entry)
        if of is not None:
            followers.setdefault(of, []).append(placement)
    if not followers:
        return RestorePlan(placements, refusals)
    sources = {
        p.path: p for p in placements if p.path in followers and hard_link_of(p.entry) is None
    }
    orphans: set[bytes] = set()
    for path, linked in followers.items():
        source = sources.get(path)
        for placement in linked:
            same = source is not None and all(
                source.entry[k] == placement.entry[k] for k in ("size", "sha256")
            )
            if not same:
                reason = f"a hard link of {printable(path)}, which this request does not restore"
                refusals.append(Refusal(placement.path, reason))
                orphans.add(placement.path)
    kept = []
    for placement in placements:
        if placement.path in orphans:
            continue
        if placement.path in sources:
            linked = followers[placement.path]
            placement = replace(placement, links=tuple(p for p in linked if p.path not in orphans))
        kept.append(placement)
    return RestorePlan(kept, refusals)


def _incomplete(entry: CatalogedFile) -> str | None:
    kind = entry["path_type"]
    linked = hard_link_of(entry) is not None  # made of another entry's file: needs no copy
    if kind == FILE and not linked and not (entry["object_key"] and entry["sha256"]):
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


# -- carrying it out -------------------------------------------------------------------


def restore(
    planned: RestorePlan,
    files: UserFiles,
    store: Filler,
    concurrency: int = DEFAULT_CONCURRENCY,
    tally: Tally = NO_TALLY,
    durability: Durability = "auto",
) -> Outcomes:
    """Carry ``planned`` out through the requester's worker ``files``: an outcome for each
    placement; each regular file counts in ``tally`` (by its cataloged path) once its
    outcome is known, unless retrying may change it. Raises ``WorkerFailed`` if the
    worker fails."""
    if not planned.placements:
        return Outcomes()
    files.begin_restore(planned.placements[0].request.target)
    done = make_directories(planned.placements, files)
    full: list[Failure] = []  # once the target is full, the other files fail at once
    for chunk in _chunks(planned.to_fetch(), FILES_AT_ONCE):
        done.results += _restore_files(chunk, files, store, concurrency, full, tally, durability)
    done.results += _restore_links(planned.of_type(LINK), files)
    done.results += finish_directories(done.created, files)
    return done


def make_directories(placements: Sequence[Placement], files: UserFiles) -> Outcomes:
    """Make every folder ``placements`` need, parents first; the cataloged directories
    among them are reported (refused, or restored when they existed already)."""
    cataloged = {p.destination: p for p in placements if p.entry["path_type"] == DIRECTORY}
    chain: dict[bytes, bool] = {}
    for placement in placements:
        for folder in _folders_of(placement.destination):
            chain.setdefault(folder, folder in cataloged)
        if placement.destination in cataloged:
            chain[placement.destination] = True
    ordered = sorted(chain, key=lambda folder: (folder.count(b"/"), folder))
    answers = files.make_directories([(folder, chain[folder]) for folder in ordered])
    done = Outcomes()
    for folder, answer in zip(ordered, answers, strict=True):
        found = cataloged.get(folder)
        if found is None:
            continue
        placement = found
        if answer == "created":
            done.created.append(placement)
        elif answer == "reused":
            done.results.append(Restored(placement.path, folder))
        else:
            done.results.append(Refusal(placement.path, answer[1]))
    return done


def _restore_files(
    chunk: Sequence[Placement],
    files: UserFiles,
    store: Filler,
    concurrency: int,
    full: list[Failure],
    tally: Tally = NO_TALLY,
    durability: Durability = "auto",
) -> list[Restored | Refusal]:
    """Create, fill and finish the files of ``chunk``, then make their hard links."""
    overwrite = chunk[0].request.overwrite
    made = files.create_files(
        [(p.destination, overwrite, p.entry["size"], p.entry["mtime_ns"]) for p in chunk],
        linked={p.destination for p in chunk if p.links},  # made even where a name is taken
    )
    outcomes: dict[int, Restored | Refusal] = {}
    to_fill: list[tuple[int, int]] = []
    sources: dict[int, bool] = {}  # files to make hard links of: kept open by the commit?
    for index, (placement, answer) in enumerate(zip(chunk, made, strict=True)):
        if isinstance(answer, int):
            to_fill.append((index, answer))
        elif answer == ALREADY:  # a redelivery: restored by an earlier attempt
            outcomes[index] = Restored(
                placement.path, placement.destination, placement.entry["size"]
            )
            if placement.links:
                sources[index] = False
        else:
            outcomes[index] = Refusal(placement.path, answer[1])

    # Files are made durable together (one syncfs per file system where it can be
    # trusted) before any is moved into place: never reported restored before its bytes
    # are on disk.
    to_sync = BatchSync(durability)

    def finished(index: int, fd: int, outcome: Stored | Failure) -> Stored | Failure:
        if not to_sync.keep(fd):
            os.close(fd)
        if isinstance(outcome, Failure) and target_full(outcome):
            full.append(outcome)
        if not (isinstance(outcome, Failure) and outcome.retryable):
            tally.done(chunk[index].path, chunk[index].entry["size"])
        return outcome

    def fill(job: list[tuple[int, int]]) -> list[Stored | Failure]:
        """One file, or a run of slices of one pack read with one request."""
        if full:
            return [finished(index, fd, full[0]) for index, fd in job]
        entries = [chunk[index].entry for index, _fd in job]
        try:
            if len(job) == 1:
                entry, (_, fd) = entries[0], job[0]
                key, sha256 = entry["object_key"] or "", entry["sha256"] or ""
                got = [store.download_into(key, fd, sha256, entry["size"], durable=False)]
            else:
                slices = [store.slice_of(e["object_key"] or "") for e in entries]
                targets = [
                    RunTarget(part, fd, e["sha256"] or "")
                    for part, (_, fd), e in zip(slices, job, entries, strict=True)
                    if part is not None
                ]
                got = store.download_run_into(targets[0].slice.pack, targets, durable=False)
        except BaseException:
            for _index, fd in job:
                os.close(fd)
            raise
        return [finished(index, fd, outcome) for (index, fd), outcome in zip(job, got, strict=True)]

    jobs = pack_runs(to_fill, [chunk[index].entry for index, _fd in to_fill], store.slice_of)
    workers = max(1, min(concurrency, len(jobs)))
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="nearline-get") as pool:
            # Every job runs, also after one raised (map would cancel those not started,
            # and their descriptors would stay open): each closes or hands over its own.
            futures = [pool.submit(fill, job) for job in jobs]
            by_index = {
                index: outcome
                for job, future in zip(jobs, futures, strict=True)
                for (index, _fd), outcome in zip(job, future.result(), strict=True)
            }
    except BaseException:
        to_sync.close()  # a worker that lives on must not keep their descriptors
        raise
    filled = [by_index[index] for index, _fd in to_fill]
    try:
        to_sync.sync()
    except OSError as error:
        unsynced = download_failure(error)
        filled = [unsynced if isinstance(f, Stored) else f for f in filled]
    commits: list[int] = []
    failed: list[bytes] = []
    for (index, _), result in zip(to_fill, filled, strict=True):
        placement = chunk[index]
        if isinstance(result, Failure):
            outcomes[index] = Refusal(placement.path, result.reason, result.retryable)
            failed.append(placement.destination)
        else:
            commits.append(index)
    if failed:
        files.discard_files(failed)
    if commits:
        rows = [
            (
                chunk[i].destination,
                chunk[i].entry["mode"],
                chunk[i].entry["mtime_ns"],
                chunk[i].entry["size"],
                overwrite,
            )
            for i in commits
        ]
        keep = [chunk[i].destination for i in commits if chunk[i].links]
        for index, reason in zip(commits, files.commit_files(rows, keep), strict=True):
            placement = chunk[index]
            if reason is None:
                outcomes[index] = Restored(
                    placement.path, placement.destination, placement.entry["size"]
                )
            else:
                outcomes[index] = Refusal(placement.path, reason)
            if placement.links and reason in (None, EXISTS, IS_DIRECTORY):
                sources[index] = True  # kept by the commit, also when its name was taken
    for index, outcome in outcomes.items():
        if not (isinstance(outcome, Refusal) and outcome.retryable):
            tally.done(chunk[index].path, chunk[index].entry["size"])
    results = [outcomes[index] for index in range(len(chunk))]
    for index, placement in enumerate(chunk):
        failure = outcomes[index]
        if placement.links and index not in sources and isinstance(failure, Refusal):
            reason = f"a hard link of {printable(placement.path)}, which could not be restored"
            results += [
                Refusal(p.path, f"{reason}: {failure.reason}", failure.retryable)
                for p in placement.links
            ]
    return results + _make_hard_links([(chunk[i], kept) for i, kept in sources.items()], files)


def _make_hard_links(
    sources: Sequence[tuple[Placement, bool]], files: UserFiles
) -> list[Restored | Refusal]:
    """Make the hard links of each restored file of ``sources`` (kept open by its commit,
    or put in place by an earlier attempt), in the worker."""
    if not sources:
        return []
    groups = [
        (
            source.destination,
            source.entry["size"],
            source.entry["mtime_ns"],
            kept,
            [(p.destination, p.request.overwrite) for p in source.links],
        )
        for source, kept in sources
    ]
    outcomes: list[Restored | Refusal] = []
    for (source, _), answers in zip(sources, files.link_files(groups), strict=True):
        for placement, answer in zip(source.links, answers, strict=True):
            if isinstance(answer, str):
                outcomes.append(Restored(placement.path, placement.destination))
            else:
                outcomes.append(Refusal(placement.path, answer[1]))
    return outcomes


def _restore_links(links: Sequence[Placement], files: UserFiles) -> list[Restored | Refusal]:
    """Recreate the symlinks with their original target text; links are never followed."""
    if not links:
        return []
    rows = [
        (p.destination, p.entry["link_path"] or b"", p.entry["mtime_ns"], p.request.overwrite)
        for p in links
    ]
    outcomes: list[Restored | Refusal] = []
    for placement, answer in zip(links, files.make_links(rows), strict=True):
        if isinstance(answer, str):
            outcomes.append(Restored(placement.path, placement.destination))
        else:
            outcomes.append(Refusal(placement.path, answer[1]))
    return outcomes


def finish_directories(created: Sequence[Placement], files: UserFiles) -> list[Restored | Refusal]:
    """Give the cataloged directories the restore made their mode and mtime, deepest
    first (writing into a directory changes its mtime)."""
    ordered = deepest_first(created)
    if not ordered:
        return []
    rows = [(p.destination, p.entry["mode"], p.entry["mtime_ns"]) for p in ordered]
    outcomes: list[Restored | Refusal] = []
    for placement, error in zip(ordered, files.finish_directories(rows), strict=True):
        if error is None:
            outcomes.append(Restored(placement.path, placement.destination))
        else:
            reason = f"could not finish the directory: {error.strerror or error}"
            outcomes.append(Refusal(placement.path, reason))
    return outcomes


def pack_runs(
    items: Sequence[tuple[int, int]],
    entries: Sequence[CatalogedFile],
    slicer: Callable[[str], Slice | None] = slice_of,
) -> list[list[tuple[int, int]]]:
    """The files to fill, grouped: the slices of one pack that lie close together form a
    run read with one request (up to ``RUN_BYTES``, skipping at most ``RUN_GAP`` between
    two); every other file is a group of its own. ``slicer`` reads a slice from a key:
    a pack's, or a staged aggregate's (D231)."""
    runs: list[list[tuple[int, int]]] = []
    slices: list[tuple[Slice, tuple[int, int]]] = []
    for item, entry in zip(items, entries, strict=True):
        part = slicer(entry["object_key"] or "")
        if part is None:
            runs.append([item])
        else:
            slices.append((part, item))
    slices.sort(key=lambda found: (found[0].pack, found[0].offset))
    run: list[tuple[int, int]] = []
    start = end = 0
    pack = ""
    for part, item in slices:
        joins = (
            run
            and part.pack == pack
            and part.offset - end <= RUN_GAP
            and part.offset + part.size - start <= RUN_BYTES
        )
        if not joins:
            if run:
                runs.append(run)
            run, pack, start = [], part.pack, part.offset
        run.append(item)
        end = max(end if joins else 0, part.offset + part.size)
    if run:
        runs.append(run)
    return runs


def deepest_first(placements: Sequence[Placement]) -> list[Placement]:
    """``placements`` ordered so that every directory comes before its parent."""
    return sorted(placements, key=lambda p: p.destination.count(b"/"), reverse=True)


def _folders_of(dest: bytes) -> list[bytes]:
    """The folders above ``dest``, top-down, without the root."""
    folders = []
    folder = parent_of(dest)
    while folder != b"/":
        folders.append(folder)
        folder = parent_of(folder)
    return folders[::-1]


def _chunks(items: Sequence[Placement], size: int) -> list[Sequence[Placement]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
