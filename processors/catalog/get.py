"""The decider's GET decisions: accept a GET and plan it, then settle its sub-batches.

A new GET is resolved with ``Decider.select`` (the FIND query on the catalog projection,
decision D11): nothing selected rejects it. Otherwise the selection is recorded as
``FilesSelected`` facts, one per bounded sub-batch, each sent to transfer-get keyed by
``transaction/sub-batch`` (as transfer-put, D8). A worker's ``FilesRestored`` report
settles its sub-batch (``FilesRetrieved``), and the GET finishes once every sub-batch has.
A GET of several sub-batches restores its directories first, in sub-batches of their
own, and sends the others once those have settled; once all have, a finishing pass gives
the directories it made their mode and mtime again (``finishing``, decision D34).
Selected files without a copy in the object store but with one on tape are recalled
first (``recalled``, decision D80): their sub-batches hold the members of one aggregate
each, recorded as ``RecallScheduled`` and sent to the recall worker; they go to
transfer-get once ``FilesRecalled`` says the members are back in the cache. A STAGE is
planned the same way and settles its sub-batches as soon as the files are in the cache.

Files selected together that were hard links of one PUT (decision D133) are planned as
one inode: the first of a link group with a cache copy (else the first that can be
recalled) is fetched, and the others travel in its sub-batch, right after it, to be made
hard links of it; they need no copy of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from domain.queries import InvalidQuery, QueryTooSlow
from events.catalog import (
    FileFailure,
    FilesRetrieved,
    FilesSelected,
    MemberFailure,
    RecallMember,
    RecallScheduled,
    RestoredFile,
    SelectedFile,
    TransactionAccepted,
    TransactionRejected,
    hard_link_of,
)
from events.reports import AggregateRecalled, FilesRestored
from events.requests import GetRequested, StageRequested
from events.topics import TRANSFER_GET
from events.work import TransferGetRequested
from processors.catalog import finishing
from processors.catalog.ports import TapeCopy
from processors.progress import starting

if TYPE_CHECKING:
    from processors.catalog.decider import Decider, Limits, Outgoing
    from processors.catalog.state import Transaction

ONLY_ON_TAPE = "only on tape, and the catalog records no aggregate member for it"
NO_COPY = "the catalog has no stored copy of this file"
NOT_FOUND = "not found in the holdings you can see"
NO_RESULT = "transfer-get reported no result for this file"
LinkFollowers = dict[tuple[int, bytes], list[SelectedFile]]
"""A GET's files restored as hard links, by (holding, path) of the file they link to."""


def get(decider: Decider, request: GetRequested) -> list[Outgoing]:
    """Accept and plan a new GET, or re-send what a redelivered one sent."""
    out: list[Outgoing] = []
    transaction = decider.state.transactions.get(request.transaction_id)
    if transaction is None:
        reason = _plan(decider, request, out)
        if reason is not None:
            decider._fact(
                out,
                TransactionRejected(
                    **decider._envelope(request, "rejected"),
                    api_action=request.api_action,
                    job_label=request.job_label,
                    reason=reason,
                ),
            )
            decider._status(out, request, "FAILED", None, warnings=[reason])
            return out
        transaction = decider.state.transactions[request.transaction_id]
    if transaction.finished:
        return out
    for _, selected in sorted(transaction.selected.items()):
        _advance(decider, out, request, transaction, selected, ask_recall=True)
    return out + finishing.finish(decider, request, transaction, send=True)


def stage(decider: Decider, request: StageRequested) -> list[Outgoing]:
    """A STAGE: planned as a GET of the regular files, which settles each sub-batch as
    soon as its files are in the cache (at once for those already there)."""
    return get(decider, as_get(request))


def as_get(request: StageRequested) -> GetRequested:
    """The GET a STAGE selects and plans as (nothing is written to disk)."""
    return GetRequested(
        event_id=request.event_id,
        transaction_id=request.transaction_id,
        user=request.user,
        group=request.group,
        cause_id=request.cause_id,
        occurred_at=request.occurred_at,
        paths=list(request.paths),
        regex=request.regex,
        label=request.label,
        holding_id=request.holding_id,
        tags=dict(request.tags),
        target=None,
        overwrite=False,
        job_label=request.job_label,
        api_action="stage",  # type: ignore[arg-type]
        groupall=request.groupall,
    )


def _advance(
    decider: Decider,
    out: list[Outgoing],
    cause: GetRequested | FilesRestored | AggregateRecalled,
    transaction: Transaction,
    selected: FilesSelected,
    ask_recall: bool,
) -> None:
    """Move one unsettled sub-batch on: recall it, fetch it, or settle it."""
    batch = selected.sub_batch
    recall = transaction.recalls.get(batch)
    if recall is not None and batch not in transaction.recalled:
        if ask_recall:  # (again, if redelivered: the worker finds what it put back)
            out.append(_recall_work(decider, recall))
            totals = starting(len(recall.members), sum(m["size"] for m in recall.members))
            decider._status(out, selected, "ARCHIVE_GETTING", batch, progress=totals)
        return
    files = _in_cache(transaction, selected)
    if not files:  # nothing (left) to fetch in it: it settles at once
        _settle(decider, out, cause, selected, [], [])
    elif transaction.api_action == "stage":  # in the cache is all a STAGE asks for
        done = [RestoredFile(file_id=f["file_id"], path=f["path"], size=f["size"]) for f in files]
        _settle(decider, out, cause, selected, done, [])
    elif _directories_done(transaction.selected) or _only_directories(selected):
        _send(decider, out, selected, files)


def _in_cache(transaction: Transaction, selected: FilesSelected) -> list[SelectedFile]:
    """The entries of a sub-batch that can be fetched now; a recalled sub-batch's with
    their cache copies' keys, its failed members left out."""
    recalled = transaction.recalled.get(selected.sub_batch)
    if recalled is None:
        return list(selected.files)
    keys = {r["file_id"]: r["object_key"] for r in recalled.recalled}
    back = {f["path"] for f in selected.files if f["file_id"] in keys}
    return [
        SelectedFile(**{**f, "object_key": keys.get(f["file_id"], f["object_key"])})
        for f in selected.files
        if f["file_id"] in keys or hard_link_of(f) in back  # linked to a file recalled
    ]


def _send(
    decider: Decider, out: list[Outgoing], selected: FilesSelected, files: list[SelectedFile]
) -> None:
    out.append(_work(decider, selected, files))
    regular = [f for f in files if f["path_type"] == "FILE"]
    totals = starting(len(regular), sum(f["size"] for f in regular)) if regular else None
    decider._status(out, selected, "TRANSFER_GETTING", selected.sub_batch, progress=totals)


def _only_directories(selected: FilesSelected) -> bool:
    return bool(selected.files) and all(f["path_type"] == "DIRECTORY" for f in selected.files)


def _directories_done(unsettled: dict[int, FilesSelected]) -> bool:
    """Whether the directories of a GET are in place: its files may go in now."""
    return not any(_only_directories(s) for s in unsettled.values())


def restored(decider: Decider, report: FilesRestored) -> list[Outgoing]:
    """Settle the sub-batch a transfer-get worker reports on, and finish the GET if done."""
    out: list[Outgoing] = []
    transaction = decider.state.transactions.get(report.transaction_id)
    if transaction is None or transaction.finished:
        return out
    selected = transaction.selected.get(report.sub_batch)
    finishing_pass = report.sub_batch in finishing.passes(decider, transaction)
    if selected is not None:
        waiting = not _directories_done(transaction.selected)
        done, failed = list(report.restored), list(report.failed)
        _settle(decider, out, report, selected, done, failed, list(report.created))
        if waiting and _directories_done(transaction.selected):  # the last ones came
            for batch in sorted(transaction.selected.values(), key=lambda s: s.sub_batch):
                _advance(decider, out, report, transaction, batch, ask_recall=False)
    elif finishing_pass and report.sub_batch not in transaction.finishing_settled:
        finishing.settle(decider, out, report)
    # A planned sub-batch's report (again, if redelivered) sends the finishing passes.
    return out + finishing.finish(decider, report, transaction, send=not finishing_pass)


def recalled(decider: Decider, report: AggregateRecalled) -> list[Outgoing]:
    """Record the members the recall worker put back into the cache (``FilesRecalled``),
    then fetch the sub-batch (a GET) or settle it (a STAGE)."""
    from processors.catalog.recalling import files_recalled

    out: list[Outgoing] = []
    transaction = decider.state.transactions.get(report.transaction_id)
    if transaction is None or transaction.finished:
        return out
    selected = transaction.selected.get(report.sub_batch)
    if selected is None or report.sub_batch not in transaction.recalls:
        return out
    if report.sub_batch not in transaction.recalled:
        decider._fact(out, files_recalled(decider, report))
    _advance(decider, out, report, transaction, selected, ask_recall=False)
    return out + finishing.finish(decider, report, transaction, send=True)


def _plan(decider: Decider, request: GetRequested, out: list[Outgoing]) -> str | None:
    """Select, accept and record the sub-batches; or the reason the GET is refused."""
    if decider.select is None:
        return "GET is not available: the decider has no catalog to select files from."
    try:
        selection = decider.select(request)
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
    decider._fact(
        out,
        TransactionAccepted(
            **decider._envelope(request, "accepted"),
            api_action=request.api_action,
            job_label=request.job_label,
            holding_id=None,  # a GET may read several holdings, and adds none
            label=None,
        ),
    )
    # Files to fetch first, then what cannot be fetched, each in bounded sub-batches
    # (a fact must stay well below Kafka's record size limit).
    batches = sub_batches(fetchable, decider.limits)
    if len(batches) > 1 or to_recall:  # directories first, alone: see D34
        folders = [f for f in fetchable if f["path_type"] == "DIRECTORY"]
        others = [f for f in fetchable if f["path_type"] != "DIRECTORY"]
        batches = sub_batches(folders, decider.limits) + sub_batches(others, decider.limits)
    planned: list[tuple[list[SelectedFile], list[FileFailure]]] = [(f, []) for f in batches]
    recalls: dict[int, tuple[str, list[RecallMember]]] = {}
    for aggregate, members in _by_aggregate(to_recall):
        copies = {f["file_id"]: copy for f, copy in members}
        leaders = _with_followers([f for f, _ in members], followers)
        for batch in sub_batches(leaders, decider.limits):
            fetched = [_member(f, copies[f["file_id"]]) for f in batch if f["file_id"] in copies]
            recalls[len(planned)] = (aggregate, fetched)
            planned.append((batch, []))
    step = decider.limits.max_files
    planned += [([], unavailable[i : i + step]) for i in range(0, len(unavailable), step)]
    for number, (batch, refused) in enumerate(planned):
        decider._fact(
            out,
            FilesSelected(
                **decider._envelope(request, f"selected/{number}"),
                sub_batch=number,
                last=number == len(planned) - 1,
                target=request.target,
                overwrite=request.overwrite,
                files=batch,
                unavailable=refused,
            ),
        )
        if number in recalls:
            decider._fact(
                out,
                RecallScheduled(
                    **decider._envelope(request, f"recall-scheduled/{number}"),
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


def _recall_work(decider: Decider, recall: RecallScheduled) -> Outgoing:
    from processors.catalog.recalling import recall_work

    return recall_work(decider, recall)


def _work(decider: Decider, selected: FilesSelected, files: list[SelectedFile]) -> Outgoing:
    from processors.catalog.decider import Outgoing  # the decider imports this module

    batch = selected.sub_batch
    return Outgoing(
        TRANSFER_GET,
        f"{selected.transaction_id}/{batch}".encode(),
        TransferGetRequested(
            **decider._envelope(selected, f"transfer-get/{batch}"),
            sub_batch=batch,
            target=selected.target,
            overwrite=selected.overwrite,
            files=files,
        ),
    )


def _settle(
    decider: Decider,
    out: list[Outgoing],
    cause: GetRequested | FilesRestored | AggregateRecalled,
    selected: FilesSelected,
    done: list[RestoredFile],
    failed: list[FileFailure],
    created: list[bytes] | None = None,
) -> None:
    """Record the outcome of one sub-batch; a selected entry without a result failed, as
    did those its recall could not bring back. ``created``: the directories it made."""
    transaction = decider.state.transactions.get(selected.transaction_id)
    recall = transaction.recalled.get(selected.sub_batch) if transaction else None
    if recall is not None:
        lost = {f["path"]: f for f in recall.failed}
        failed = (
            [
                FileFailure(path=f["path"], reason=f["reason"], retryable=f["retryable"])
                for f in recall.failed
            ]
            + [
                _link_lost(entry["path"], leader, lost[leader])
                for entry in selected.files
                if (leader := hard_link_of(entry)) is not None and leader in lost
            ]
            + failed
        )
    reported = {r["path"] for r in done} | {f["path"] for f in failed}
    failed += [
        FileFailure(path=entry["path"], reason=NO_RESULT, retryable=True)
        for entry in selected.files
        if entry["path"] not in reported
    ]
    batch = selected.sub_batch
    decider._fact(
        out,
        FilesRetrieved(
            **decider._envelope(cause, f"retrieved/{batch}"),
            sub_batch=batch,
            restored=done,
            failed=failed,
            created=created or [],
        ),
    )
    failures = list(selected.unavailable) + failed
    if failures and not done:
        state = "FAILED"
    else:
        state = "COMPLETE_WITH_ERRORS" if failures else "COMPLETE"
    decider._status(out, cause, state, batch, failures=failures)


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


def _link_lost(path: bytes, leader: bytes, failure: MemberFailure) -> FileFailure:
    """A file to be made a hard link of ``leader``, whose recall failed."""
    shown = leader.decode("utf-8", "backslashreplace")
    return FileFailure(
        path=path,
        reason=f"a hard link of {shown}, which could not be recalled: {failure['reason']}",
        retryable=failure["retryable"],
    )


def _failure(path: bytes, reason: str) -> FileFailure:
    return FileFailure(path=path, reason=reason, retryable=False)
