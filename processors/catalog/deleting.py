"""DELETE decisions: take files (or whole holdings) out of the user's own holdings.

The decider decides from its fold alone and records ``FilesDeleted`` facts (the paths
are free again at once) in batches of at most ``Limits.max_files``, with a
``HoldingDeleted`` after the last batch of a whole holding. Each batch's objects go to
the object deleter on their own topic; its report settles the batch (``ObjectsRemoved``)
and the last one finishes the transaction.
"""

from __future__ import annotations

from domain.pack_keys import pack_of
from events.catalog import (
    DeletedFile,
    FileFailure,
    FilesDeleted,
    HoldingDeleted,
    ObjectsRemoved,
    TransactionAccepted,
)
from events.reports import ObjectsDeleted
from events.requests import DeleteRequested
from events.topics import DELETE_OBJECTS
from events.work import DeleteObjectsRequested
from nearline.patterns import BadPattern, compiled
from processors.catalog.emitting import Context, Emitter
from processors.catalog.fold_selection import own_holdings, path_text
from processors.catalog.state import CatalogState, FileEntry, Holding

NO_SUCH_FILE = "No such file in your holdings."
NO_MATCH = "No file in your holdings matches the regular expression."
BEING_PUT = "The file is being put by another transaction; delete it when that finished."


def delete(ctx: Context, request: DeleteRequested, emit: Emitter) -> None:
    """Accept and plan a new DELETE, or re-send what a redelivered one sent."""
    state = ctx.state
    transaction = state.transactions.get(request.transaction_id)
    if transaction is None:
        holdings = own_holdings(
            state, request.user, request.label, request.holding_id, request.tags
        )
        reason = _refusal(state, request, holdings)
        if reason is not None:
            emit.reject(request, request.api_action, reason)
            return
        emit.fact(
            TransactionAccepted(
                **emit.envelope(request, "accepted"),
                api_action=request.api_action,
                job_label=request.job_label,
                holding_id=None,  # a DELETE may span holdings; it put nothing in any
                label=None,
            ),
        )
        transaction = state.transactions[request.transaction_id]
        _plan(ctx, request, holdings, emit)
    if transaction.finished:
        return
    for batch, deleted in sorted(transaction.deleting.items()):
        _remove_objects(state, request, batch, deleted, emit)
    emit.finish_if_complete(request, transaction)


def _refusal(state: CatalogState, request: DeleteRequested, holdings: list[Holding]) -> str | None:
    if not holdings:
        return (
            "No holding of yours matches the label, id and tags given: only your own "
            "holdings can be deleted from; list them to check."
        )
    if request.regex is not None:
        try:
            compiled(request.regex)  # RE2: linear in each path, whatever the pattern
        except BadPattern as error:
            return str(error)
    if request.paths or request.regex is not None:
        return None
    if request.label is None and request.holding_id is None and not request.tags:
        return "Give paths, a regular expression, or the holding to delete."
    for holding in holdings:
        for _path, entry in state.holding_files(holding.id):
            if not entry.stored:
                return (
                    f"Holding {holding.label!r} has files being put by transaction "
                    f"{entry.transaction_id}; delete it when that finished."
                )
    return None


def _plan(ctx: Context, request: DeleteRequested, holdings: list[Holding], emit: Emitter) -> None:
    """The deletion batches: facts first (the paths are free at once), then work."""
    chosen, refused = _chosen(ctx.state, request, holdings)
    whole = not request.paths and request.regex is None
    most = ctx.limits.max_files
    batches: list[tuple[int, list[DeletedFile]]] = []
    for holding in holdings:
        files = chosen.get(holding.id, [])
        for start in range(0, len(files), most):
            batches.append((holding.id, files[start : start + most]))
        if whole and not files:
            batches.append((holding.id, []))  # an empty holding: nothing to remove
    if not batches:
        batches.append((holdings[0].id, []))  # only refusals: they need a batch
    for number, (holding_id, files) in enumerate(batches):
        emit.fact(
            FilesDeleted(
                **emit.envelope(request, f"deleted/{number}"),
                holding_id=holding_id,
                sub_batch=number,
                last=number == len(batches) - 1,
                files=files,
                refused=refused if number == 0 else [],
            ),
        )
        emit.status(request, "CATALOG_DELETING", number)
    emit.status(request, "CATALOG_DELETING", None)
    if whole:
        for holding in holdings:
            emit.fact(
                HoldingDeleted(
                    **emit.envelope(request, f"holding-deleted/{holding.id}"),
                    holding_id=holding.id,
                    label=holding.label,
                ),
            )


def _chosen(
    state: CatalogState, request: DeleteRequested, holdings: list[Holding]
) -> tuple[dict[int, list[DeletedFile]], list[FileFailure]]:
    """The files to delete in each holding, and the paths that cannot be."""
    pattern = compiled(request.regex) if request.regex is not None else None
    wanted = set(request.paths)
    chosen: dict[int, list[DeletedFile]] = {}
    found: set[bytes] = set()
    busy: set[bytes] = set()
    for holding in holdings:
        for path, entry in _candidates(state, holding.id, request.paths):
            if pattern is not None and pattern.search(path_text(path)) is None:
                continue
            if not entry.stored:
                busy.add(path)
                continue
            found.add(path)
            chosen.setdefault(holding.id, []).append(
                DeletedFile(
                    path=path,
                    transaction_id=entry.transaction_id,
                    size=entry.size,
                    object_key=entry.object_key,
                )
            )
    refused = [FileFailure(path=p, reason=BEING_PUT, retryable=False) for p in sorted(busy)]
    refused += [
        FileFailure(path=p, reason=NO_SUCH_FILE, retryable=False)
        for p in sorted(wanted - found - busy)
    ]
    if request.regex is not None and not found and not busy:
        refused.append(FileFailure(path=request.regex.encode(), reason=NO_MATCH, retryable=False))
    return chosen, refused


def _candidates(
    state: CatalogState, holding_id: int, paths: list[bytes]
) -> list[tuple[bytes, FileEntry]]:
    """The named paths the holding has, or (none named) all its files."""
    if not paths:
        return state.holding_files(holding_id)
    files = state.files
    named = sorted(set(paths))
    return [(p, files[(holding_id, p)]) for p in named if (holding_id, p) in files]


def _remove_objects(
    state: CatalogState,
    cause: DeleteRequested,
    batch: int,
    deleted: FilesDeleted,
    emit: Emitter,
) -> None:
    # A slice goes with its pack, once no cached file uses the pack (D90).
    keys = [f["object_key"] for f in deleted.files if f["object_key"]]
    keys = [key for key in keys if pack_of(key) is None] + state.unused_packs(keys)
    if not keys:  # directories and links only, or nothing: settled at once
        _settle(cause, batch, deleted, [], emit)
        return
    emit.send(
        DELETE_OBJECTS,
        cause.transaction_id.encode(),
        DeleteObjectsRequested(
            **emit.envelope(cause, f"delete-objects/{batch}"),
            holding_id=deleted.holding_id,
            sub_batch=batch,
            object_keys=keys,
        ),
    )


def objects_deleted(ctx: Context, report: ObjectsDeleted, emit: Emitter) -> None:
    """Settle the batch the object deleter reports on, and finish the DELETE if done."""
    transaction = ctx.state.transactions.get(report.transaction_id)
    if transaction is None or transaction.finished:
        return
    deleted = transaction.deleting.get(report.sub_batch)
    if deleted is None:
        # Settled already (a redelivery), or no DELETE's batch at all: a GET's spare
        # recall packs are removed under the GET's id (D180), and must not finish it.
        return
    _settle(report, report.sub_batch, deleted, report.object_keys, emit)
    emit.finish_if_complete(report, transaction)


def _settle(
    cause: DeleteRequested | ObjectsDeleted,
    batch: int,
    deleted: FilesDeleted,
    keys: list[str],
    emit: Emitter,
) -> None:
    emit.fact(
        ObjectsRemoved(
            **emit.envelope(cause, f"objects-removed/{batch}"),
            holding_id=deleted.holding_id,
            sub_batch=batch,
            object_keys=keys,
        ),
    )
    state = _outcome(len(deleted.files), len(deleted.refused))
    emit.status(cause, state, batch, failures=list(deleted.refused))


def _outcome(done: int, failed: int) -> str:
    if failed and not done:
        return "FAILED"
    return "COMPLETE_WITH_ERRORS" if failed else "COMPLETE"
