"""What a GET or STAGE fetches, chosen with FIND's query on the catalog projection
(decision D11). The decider reads it through the ``Selector`` port its wiring builds
(``processors.catalog.wiring``, decision D140).

Exact paths or a regular expression on the path text; the holding by label, id or tags
(several tags: all of them). Without a holding selector each path comes from its newest
version (the holding ingested last); ``groupall`` reads the group's holdings too.

Files selected together that were hard links of each other in one PUT (decision D133)
are given one ``link_group``: the least of their paths, which names the group within its
holding (paths are unique there); the decider plans them as one inode.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, select

from domain.access import Scope
from domain.object_keys import object_key
from events.catalog import SelectedFile
from events.requests import GetRequested
from projections import tables as t
from projections.queries import rows_with_ids
from projections.queries.files import FoundFile, find_files
from projections.queries.filters import HoldingSelector

OBJECT_STORAGE = "OBJECT_STORAGE"
TAPE = "TAPE"


class TapeMember(NamedTuple):
    """Where a file's tape copy is: its aggregate and the member's data offset in it, and
    the object key its cache copy is put back under."""

    aggregate: str
    offset: int
    object_key: str


@dataclass(frozen=True)
class ForGet:
    """What a GET selects: the entries, the ids of those with a tape copy, the requested
    paths that matched nothing, and where the tape copies of the files without a cache
    copy are."""

    files: list[SelectedFile]
    on_tape: frozenset[int]
    not_found: list[bytes]
    tape_copies: dict[int, TapeMember]


def select_for_get(conn: Connection, request: GetRequested) -> ForGet:
    """The entries ``request`` selects among those its user may read."""
    scope = Scope(request.user, request.group, request.groupall)
    selector = HoldingSelector(
        request.label, holding_id=request.holding_id, tags=dict(request.tags)
    )
    found: list[FoundFile] = []
    not_found: list[bytes] = []
    if request.regex is not None:
        found = find_files(conn, scope, selector, regex=request.regex)
    else:
        for path in dict.fromkeys(request.paths):
            matches = find_files(conn, scope, selector, path=path)
            if not matches:
                not_found.append(path)
            found.extend(matches)
    if not (selector.label or selector.holding_id is not None or selector.tags):
        found = newest_versions(found)
    tape_only = [f for f in found if _on_tape(f) and not _in_store(f)]
    groups = link_groups(found)
    return ForGet(
        files=[selected(f, groups.get(f.id)) for f in found],
        on_tape=frozenset(f.id for f in found if _on_tape(f)),
        not_found=not_found,
        tape_copies=tape_copies(conn, tape_only),
    )


def tape_copies(conn: Connection, files: Iterable[FoundFile]) -> dict[int, TapeMember]:
    """Where the members of these files are on tape, and the keys their cache copies are
    put back under (the keys they were PUT with)."""
    wanted = {f.id: f for f in files}
    m = t.aggregate_members
    copies: dict[int, TapeMember] = {}
    for row in rows_with_ids(conn, select(m), m.c.file_id, list(wanted)):
        f = wanted[row.file_id]
        key = object_key(f.holding_id, f.transaction_id, f.path)
        copies[row.file_id] = TapeMember(row.aggregate, row.offset, key)
    return copies


def _in_store(f: FoundFile) -> bool:
    return any(loc.storage_type == OBJECT_STORAGE for loc in f.locations)


def newest_versions(found: Iterable[FoundFile]) -> list[FoundFile]:
    """One entry per path: the one ingested last (the higher holding id on a tie)."""
    newest: dict[bytes, FoundFile] = {}
    for f in found:
        known = newest.get(f.path)
        if known is None or (f.ingest_time, f.holding_id) > (known.ingest_time, known.holding_id):
            newest[f.path] = f
    return sorted(newest.values(), key=lambda f: (f.holding_id, f.path))


def link_groups(found: Iterable[FoundFile]) -> dict[int, bytes]:
    """File id to the name of its link group, for the regular files found with at least
    one other file of their PUT's link group: the least path among them.

    A group is scoped to its PUT (holding and transaction): a later PUT into the holding
    may name its own group after a path an earlier PUT holds."""
    members: dict[tuple[int, str, bytes], list[FoundFile]] = {}
    for f in found:
        if f.path_type == "FILE" and f.link_group is not None:
            members.setdefault((f.holding_id, f.transaction_id, f.link_group), []).append(f)
    groups: dict[int, bytes] = {}
    for files in members.values():
        if len(files) > 1:
            name = min(f.path for f in files)
            groups.update((f.id, name) for f in files)
    return groups


def selected(f: FoundFile, link_group: bytes | None = None) -> SelectedFile:
    """A found entry as the GET records it, with its object-store copy if it has one, and
    the name of its link group among the files selected with it."""
    in_store = next((loc for loc in f.locations if loc.storage_type == OBJECT_STORAGE), None)
    return SelectedFile(
        file_id=f.id,
        holding_id=f.holding_id,
        path=f.path,
        path_type=f.path_type,
        link_path=f.link_path,
        size=f.size,
        mode=f.mode,
        uid=f.uid,
        gid=f.gid,
        mtime_ns=f.mtime_ns,
        object_key=in_store.path if in_store else None,
        adler32=f.checksums.get("ADLER32"),
        sha256=f.checksums.get("SHA256"),
        link_group=link_group,
    )


def _on_tape(f: FoundFile) -> bool:
    return any(loc.storage_type == TAPE for loc in f.locations)
