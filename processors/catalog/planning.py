"""GET and STAGE planning: select a new GET's files, accept it and record its sub-batches.

A new GET is resolved with the context's ``select`` port (the FIND query on the catalog
projection, decisions D11 and D140): nothing selected rejects it. Otherwise the selection
is recorded as ``FilesSelected`` facts, one per bounded sub-batch (see ``get`` for how
they are sent and settled). A GET of several sub-batches restores its directories first,
in sub-batches of their own (D34). Selected files without a copy in the object store but
with one on tape are recalled first (D80): their sub-batches hold the members of one
aggregate each, recorded as ``RecallScheduled``.

Files selected together that were hard links of one PUT (decision D133) are planned as
one inode: the first of a link group with a cache copy (else the first that can be
recalled) is fetched, and the others travel in its sub-batch, right after it, to be made
hard links of it; they need no copy of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domain.queries import InvalidQuery, QueryTooSlow
from events.catalog import (
    FileFailure,
    FilesSelected,
    RecallMember,
    RecallScheduled,
    SelectedFile,
    TransactionAccepted,
    hard_link_of,
)
from events.requests import GetRequested
from processors.catalog.emitting import Context, Emitter, Limits
from processors.catalog.ports import TapeCopy

ONLY_ON_TAPE = "only on tape, and the catalog records no aggregate member for it"
NO_COPY = "the catalog has no stored copy of this file"
NOT_FOUND = "not found in the holdings you can see"
LinkFollowers = dict[tuple[int, bytes], list[SelectedFile]]
"""A GET's files restored as hard links, by (holding, path) of the file they link to."""


def plan(ctx: Context, request: GetRequested, emit: Emitter) -> str | None:
    """Select, accept and record the sub-batches; or the reason the GET is refused."""
    if ctx.select is None:
        return "GET is not available: the decider has no catalog to select files from."
    try:
        selection = ctx.select(request)
    except (InvalidQuery, QueryTooSlow) as error:
        return str(error)
    if not selection.files:
        return _nothing_selected(request)
    # A STAGE brings each file's own copy into the cache: it has no use for link groups.
    stage = request.api_action == "stage"
    files = linked(selection.files, selection.tape_copies, with_groups=not stage)
    followers: LinkFollowers = {}
    for entry in files:
        leader = hard_link_of(entry)
        if leader is not None:
            followers.setdefault((entry["holding_id"], leader), []).append(entry)
    fetchable, to_recall, unavailable = _needs_recall(
        [f for f in files if hard_link_of(f) is None], selection.on_tape, selection.tape_copies
    )
    fetchable = _with_followers(fetchable, followers)
    if request.api_action == "stage":  # only regular files have anything to bring back
        fetchable = [f for f in fetchable if f["path_type"] == "FILE"]
    unavailable += [
        FileFailure(path=p, reason=NOT_FOUND, retryable=False) for p in selection.not_found
    ]
    emit.fact(
        TransactionAccepted(
            **emit.envelope(request, "accepted"),
            api_action=request.api_action,
            job_label=request.job_label,
            holding_id=None,  # a GET may read several holdings, and adds none
            label=None,
        ),
    )
    # Files to fetch first, then what cannot be fetched, each in bounded sub-batches
    # (a fact must stay well below Kafka's record size limit).
    batches = sub_batches(fetchable, ctx.limits)
    if len(batches) > 1 or to_recall:  # directories first, alone: see D34
        folders = [f for f in fetchable if f["path_type"] == "DIRECTORY"]
        others = [f for f in fetchable if f["path_type"] != "DIRECTORY"]
        batches = sub_batches(folders, ctx.limits) + sub_batches(others, ctx.limits)
    planned: list[tuple[list[SelectedFile], list[FileFailure]]] = [(f, []) for f in batches]
    recalls: dict[int, tuple[str, list[RecallMember]]] = {}
    for aggregate, members in _by_aggregate(to_recall):
        copies = {f["file_id"]: copy for f, copy in members}
        leaders = _with_followers([f for f, _ in members], followers)
        for batch in sub_batches(leaders, ctx.limits):
            fetched = [_member(f, copies[f["file_id"]]) for f in batch if f["file_id"] in copies]
            recalls[len(planned)] = (aggregate, fetched)
            planned.append((batch, []))
    step = ctx.limits.max_files
    planned += [([], unavailable[i : i + step]) for i in range(0, len(unavailable), step)]
    for number, (batch, refused) in enumerate(planned):
        emit.fact(
            FilesSelected(
                **emit.envelope(request, f"selected/{number}"),
                sub_batch=number,
                last=number == len(planned) - 1,
                target=request.target,
                overwrite=request.overwrite,
                files=batch,
                unavailable=refused,
            ),
        )
        if number in recalls:
            emit.fact(
                RecallScheduled(
                    **emit.envelope(request, f"recall-scheduled/{number}"),
                    sub_batch=number,
                    holding_id=batch[0]["holding_id"],
                    aggregate=recalls[number][0],
                    members=recalls[number][1],
                ),
            )
    return None


def linked(
    files: Sequence[SelectedFile], tape_copies: Mapping[int, TapeCopy], with_groups: bool = True
) -> list[SelectedFile]:
    """``files`` with every link group's ``link_group`` set to the path of the file this
    GET fetches for it (its leader), and None for every other entry.

    A group is its files with one name (``selection.link_groups``), holding, size and
    sha256: a file that changed between two reads of its PUT is restored from its own
    copy. The leader is the first by path with a cache copy, else the first that can be
    recalled; a group none of whose files has a copy is no group (each fails alone)."""
    groups: dict[tuple[int, bytes, int, str | None], list[SelectedFile]] = {}
    for entry in files if with_groups else ():
        name = entry.get("link_group")
        if entry["path_type"] == "FILE" and name is not None:
            key = (entry["holding_id"], name, entry["size"], entry["sha256"])
            groups.setdefault(key, []).append(entry)
    leader_of: dict[int, bytes] = {}
    for members in groups.values():
        ordered = sorted(members, key=lambda f: f["path"])
        cached = [f for f in ordered if f["object_key"]]
        leaders = cached or [f for f in ordered if _recallable(f, tape_copies)]
        if len(members) > 1 and leaders:
            leader_of.update((f["file_id"], leaders[0]["path"]) for f in members)
    return [SelectedFile(**{**f, "link_group": leader_of.get(f["file_id"])}) for f in files]


def _recallable(entry: SelectedFile, tape_copies: Mapping[int, TapeCopy]) -> bool:
    return entry["file_id"] in tape_copies and bool(entry["sha256"] and entry["adler32"])


def _with_followers(entries: list[SelectedFile], followers: LinkFollowers) -> list[SelectedFile]:
    """``entries`` with the files linked to each right after it, so that they share its
    sub-batch (``sub_batches`` never cuts before one)."""
    if not followers:
        return entries
    ordered: list[SelectedFile] = []
    for entry in entries:
        ordered.append(entry)
        ordered += followers.get((entry["holding_id"], entry["path"]), [])
    return ordered


def _needs_recall(
    files: Sequence[SelectedFile],
    on_tape: frozenset[int],
    tape_copies: Mapping[int, TapeCopy],
) -> tuple[list[SelectedFile], list[tuple[SelectedFile, TapeCopy]], list[FileFailure]]:
    """The entries transfer-get can restore now, those to recall from tape first (with
    their tape copy), and the files that cannot be fetched.

    Directories and links need no copy: the catalog holds all of them.
    """
    fetchable: list[SelectedFile] = []
    to_recall: list[tuple[SelectedFile, TapeCopy]] = []
    unavailable: list[FileFailure] = []
    for entry in files:
        copy = tape_copies.get(entry["file_id"])
        if entry["path_type"] != "FILE" or entry["object_key"]:
            fetchable.append(entry)
        elif copy is not None and _recallable(entry, tape_copies):
            to_recall.append((entry, copy))
        elif entry["file_id"] in on_tape:
            unavailable.append(
                FileFailure(path=entry["path"], reason=ONLY_ON_TAPE, retryable=False)
            )
        else:
            unavailable.append(FileFailure(path=entry["path"], reason=NO_COPY, retryable=False))
    return fetchable, to_recall, unavailable


def _by_aggregate(
    to_recall: list[tuple[SelectedFile, TapeCopy]],
) -> list[tuple[str, list[tuple[SelectedFile, TapeCopy]]]]:
    """The files to recall grouped by aggregate (in name order), each group by offset:
    one group is one stage, read front to back."""
    groups: dict[str, list[tuple[SelectedFile, TapeCopy]]] = {}
    for entry, copy in to_recall:
        groups.setdefault(copy.aggregate, []).append((entry, copy))
    return [
        (name, sorted(groups[name], key=lambda pair: pair[1].offset)) for name in sorted(groups)
    ]


def _member(entry: SelectedFile, copy: TapeCopy) -> RecallMember:
    return RecallMember(
        file_id=entry["file_id"],
        path=entry["path"],
        object_key=copy.object_key,
        offset=copy.offset,
        size=entry["size"],
        sha256=entry["sha256"] or "",
        adler32=entry["adler32"] or "",
    )


def sub_batches(files: Sequence[SelectedFile], limits: Limits) -> list[list[SelectedFile]]:
    """``files`` in order, cut into runs of at most ``limits.max_files`` entries and about
    ``limits.max_bytes`` (a larger file gets a run of its own). A file made a hard link of
    the one before it stays with it, and adds no bytes to fetch."""
    batches: list[list[SelectedFile]] = []
    current: list[SelectedFile] = []
    size = 0
    for entry in files:
        follower = hard_link_of(entry) is not None
        if (
            current
            and not follower
            and (len(current) >= limits.max_files or size + entry["size"] > limits.max_bytes)
        ):
            batches.append(current)
            current, size = [], 0
        current.append(entry)
        size += 0 if follower else entry["size"]
    if current:
        batches.append(current)
    return batches


def _nothing_selected(request: GetRequested) -> str:
    if request.regex is not None:
        what = f"the regular expression {request.regex!r}"
    else:
        shown = ", ".join(p.decode("utf-8", "backslashreplace") for p in request.paths[:5])
        more = f" and {len(request.paths) - 5} more" if len(request.paths) > 5 else ""
        what = f"{shown}{more}"
    holding = []
    if request.label is not None:
        holding.append(f"label {request.label!r}")
    if request.holding_id is not None:
        holding.append(f"holding id {request.holding_id}")
    if request.tags:
        holding.append("tags " + ", ".join(f"{k}:{v}" for k, v in request.tags.items()))
    where = f" in the holdings with {' and '.join(holding)}" if holding else ""
    return (
        f"Nothing to get: no file you can see matches {what}{where}. "
        "Check the paths and the holding with find (and groupall for your group's holdings)."
    )
