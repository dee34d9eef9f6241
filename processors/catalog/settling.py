"""How a GET's or STAGE's planned sub-batches move on and settle.

Each ``FilesSelected`` sub-batch is sent to transfer-get keyed by ``transaction/sub-batch``
(as transfer-put, D8), once the GET's directories are in place (D34); a sub-batch to be
recalled first goes to the recall worker keyed by its aggregate (D80), and to transfer-get
once its members are back in the cache, or, for a GET, as soon as the aggregate is
online: transfer-get then reads the members straight from it (D231). A STAGE's sub-batch
settles as soon as its files are in the cache. A worker's report settles its sub-batch as
``FilesRetrieved``.
"""

from __future__ import annotations

from domain.pack_keys import Slice, pack_of
from events.base import Event
from events.catalog import (
    FileFailure,
    FilesRecalled,
    FilesRetrieved,
    FilesSelected,
    MemberFailure,
    RecallScheduled,
    RestoredFile,
    SelectedFile,
    hard_link_of,
)
from events.reports import AggregateOnline, AggregateRecalled, FilesRestored
from events.requests import GetRequested
from events.topics import ARCHIVE_GET, DELETE_OBJECTS, TRANSFER_GET
from events.work import (
    RECALL_CACHE,
    RECALL_FILL,
    RECALL_ONLINE,
    DeleteObjectsRequested,
    RecallRequested,
    TransferGetFromTapeRequested,
    TransferGetRequested,
)
from processors.catalog.emitting import Emitter
from processors.catalog.state import CatalogState, Transaction
from processors.progress import starting

NO_RESULT = "transfer-get reported no result for this file"


def advance(
    state: CatalogState,
    cause: GetRequested | FilesRestored | AggregateRecalled | AggregateOnline,
    transaction: Transaction,
    selected: FilesSelected,
    emit: Emitter,
    *,
    ask_recall: bool,
) -> None:
    """Move one unsettled sub-batch on: recall it, fetch it, or settle it."""
    batch = selected.sub_batch
    recall = transaction.recalls.get(batch)
    if recall is not None and batch not in transaction.recalled:
        # A GET's recall is asked for once its directories are in place: its files are
        # restored as soon as the aggregate is online (D231). (Asked again if redelivered:
        # the worker finds the aggregate online, or what it put back.)
        if ask_recall and directories_done(transaction.selected):
            step = RECALL_CACHE if transaction.api_action == "stage" else RECALL_ONLINE
            _recall_work(recall, emit, step)
            totals = starting(len(recall.members), sum(m["size"] for m in recall.members))
            emit.status(selected, "ARCHIVE_GETTING", batch, progress=totals)
        return
    if batch in transaction.from_tape:
        return  # transfer-get restores it from its aggregate (D231)
    files = _in_cache(transaction, selected)
    if not files:  # nothing (left) to fetch in it: it settles at once
        settle(state, cause, selected, [], [], emit)
    elif transaction.api_action == "stage":  # in the cache is all a STAGE asks for
        done = [RestoredFile(file_id=f["file_id"], path=f["path"], size=f["size"]) for f in files]
        settle(state, cause, selected, done, [], emit)
    elif directories_done(transaction.selected) or _only_directories(selected):
        _send(selected, files, emit)


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
    selected: FilesSelected, files: list[SelectedFile], emit: Emitter, aggregate: str = ""
) -> None:
    batch = selected.sub_batch
    work: TransferGetRequested | TransferGetFromTapeRequested
    if aggregate:
        work = TransferGetFromTapeRequested(
            **emit.envelope(selected, f"transfer-get-from-tape/{batch}"),
            sub_batch=batch,
            target=selected.target,
            overwrite=selected.overwrite,
            aggregate=aggregate,
            files=files,
        )
    else:
        work = TransferGetRequested(
            **emit.envelope(selected, f"transfer-get/{batch}"),
            sub_batch=batch,
            target=selected.target,
            overwrite=selected.overwrite,
            files=files,
        )
    emit.send(TRANSFER_GET, f"{selected.transaction_id}/{batch}".encode(), work)
    regular = [f for f in files if f["path_type"] == "FILE"]
    totals = starting(len(regular), sum(f["size"] for f in regular)) if regular else None
    emit.status(selected, "TRANSFER_GETTING", selected.sub_batch, progress=totals)


def from_tape(
    transaction: Transaction, selected: FilesSelected, recall: RecallScheduled, emit: Emitter
) -> None:
    """Send a recalled sub-batch to transfer-get to restore from its online aggregate
    (D231): each member's key is its slice of the aggregate; hard links of a member
    come too, as they would once it was back in the cache."""
    members = {m["file_id"]: m for m in recall.members}
    leaders = {m["path"] for m in recall.members}
    files = [
        SelectedFile(**{**f, "object_key": Slice(recall.aggregate, m["offset"], m["size"]).key})
        if (m := members.get(f["file_id"])) is not None
        else f
        for f in selected.files
        if f["file_id"] in members or hard_link_of(f) in leaders
    ]
    transaction.from_tape.add(selected.sub_batch)
    _send(selected, files, emit, aggregate=recall.aggregate)


def _recall_work(recall: RecallScheduled, emit: Emitter, step: str) -> None:
    """The recall of one sub-batch, keyed by its aggregate: a GET's stages it and reports
    it online; once restored from it, the members go back into the cache (D231)."""
    batch = recall.sub_batch
    name = "recall" if step != RECALL_FILL else "recall-fill"
    emit.send(
        ARCHIVE_GET,
        recall.aggregate.encode(),
        RecallRequested(
            **emit.envelope(recall, f"{name}/{batch}"),
            sub_batch=batch,
            holding_id=recall.holding_id,
            aggregate=recall.aggregate,
            members=list(recall.members),
            step=step,
        ),
    )


def _only_directories(selected: FilesSelected) -> bool:
    return bool(selected.files) and all(f["path_type"] == "DIRECTORY" for f in selected.files)


def directories_done(unsettled: dict[int, FilesSelected]) -> bool:
    """Whether the directories of a GET are in place: its files may go in now."""
    return not any(_only_directories(s) for s in unsettled.values())


def settle(
    state: CatalogState,
    cause: Event,
    selected: FilesSelected,
    done: list[RestoredFile],
    failed: list[FileFailure],
    emit: Emitter,
    created: list[bytes] | None = None,
) -> None:
    """Record the outcome of one sub-batch; a selected entry without a result failed, as
    did those its recall could not bring back. ``created``: the directories it made."""
    transaction = state.transactions.get(selected.transaction_id)
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
    emit.fact(
        FilesRetrieved(
            **emit.envelope(cause, f"retrieved/{batch}"),
            sub_batch=batch,
            restored=done,
            failed=failed,
            created=created or [],
        ),
    )
    if recall is not None:
        free_spare_packs(state, cause, recall, emit)
    elif transaction and batch in transaction.recalls:
        # A recalled sub-batch settled before its members were back in the cache was
        # restored from its aggregate: they go back only now, so that filling the cache
        # does not slow the restore down (D231). (Known from the facts alone.)
        _recall_work(transaction.recalls[batch], emit, RECALL_FILL)
    failures = list(selected.unavailable) + failed
    if failures and not done:
        outcome = "FAILED"
    else:
        outcome = "COMPLETE_WITH_ERRORS" if failures else "COMPLETE"
    emit.status(cause, outcome, batch, failures=failures)


def free_spare_packs(
    state: CatalogState, cause: Event, recall: FilesRecalled, emit: Emitter
) -> None:
    """Remove the packs the recall put back that no cached file uses (D180): its files
    were cached already, from another recall's pack, when its fact came, so the fold
    counted none of its slices; the sub-batch has read them by now. Only where the fold
    holds the holding: another owner's files are counted by no fold here (D81)."""
    if recall.holding_id not in state.holdings:
        return
    unused = state.unused_packs(r["object_key"] for r in recall.recalled)
    packs = [pack for pack in unused if not _read_by_another(state, pack, recall)]
    if packs:
        emit.send(
            DELETE_OBJECTS,
            recall.transaction_id.encode(),
            DeleteObjectsRequested(
                **emit.envelope(cause, f"delete-spare-packs/{recall.sub_batch}"),
                holding_id=recall.holding_id,
                sub_batch=recall.sub_batch,
                object_keys=packs,
            ),
        )


def _read_by_another(state: CatalogState, pack: str, recall: FilesRecalled) -> bool:
    """Whether a sub-batch not yet settled was also given slices of ``pack``: requests
    of one aggregate share what each put back (D182), so the pack goes with the last of
    them to settle, not the first."""
    for transaction in state.transactions.unfinished():
        for batch, other in transaction.recalled.items():
            if other.event_id == recall.event_id or batch in transaction.settled:
                continue
            if any(pack_of(r["object_key"]) == pack for r in other.recalled):
                return True
    return False


def _link_lost(path: bytes, leader: bytes, failure: MemberFailure) -> FileFailure:
    """A file to be made a hard link of ``leader``, whose recall failed."""
    shown = leader.decode("utf-8", "backslashreplace")
    return FileFailure(
        path=path,
        reason=f"a hard link of {shown}, which could not be recalled: {failure['reason']}",
        retryable=failure["retryable"],
    )
