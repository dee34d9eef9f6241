"""The decider's GET decisions: accept a GET and plan it, then settle its sub-batches.

A new GET is resolved with ``Decider.select`` (the FIND query on the catalog projection,
decision D11): nothing selected rejects it. Otherwise the selection is recorded as
``FilesSelected`` facts, one per bounded sub-batch, each sent to transfer-get keyed by
``transaction/sub-batch`` (as transfer-put, D8). A worker's ``FilesRestored`` report
settles its sub-batch (``FilesRetrieved``), and the GET finishes once every sub-batch has.
A GET of several sub-batches restores its directories first, in sub-batches of their
own, and sends the others once those have settled (decision D34).
Selected files without a copy in the object store go through ``_needs_recall``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from events.catalog import (
    FileFailure,
    FilesRetrieved,
    FilesSelected,
    RestoredFile,
    SelectedFile,
    TransactionAccepted,
    TransactionRejected,
)
from events.reports import FilesRestored
from events.requests import GetRequested
from events.topics import TRANSFER_GET
from events.work import TransferGetRequested
from projections.queries import InvalidQuery, QueryTooSlow

if TYPE_CHECKING:
    from processors.catalog.decider import Decider, Limits, Outgoing

ONLY_ON_TAPE = "only on tape: recall is not available yet"
NO_COPY = "the catalog has no stored copy of this file"
NOT_FOUND = "not found in the holdings you can see"
NO_RESULT = "transfer-get reported no result for this file"


@dataclass(frozen=True)
class Selection:
    """What a GET selected: the entries (newest versions unless a holding was chosen),
    the ids of those with a tape copy, and the requested paths that matched nothing."""

    files: list[SelectedFile]
    on_tape: frozenset[int] = frozenset()
    not_found: list[bytes] = field(default_factory=list)


Selector = Callable[[GetRequested], Selection]
"""Selects a GET's files from the catalog projection; raises ``InvalidQuery`` (or
``QueryTooSlow``) for a request that cannot be answered, and any other error when the
database cannot be reached (the request is then redelivered)."""


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
        if not selected.files:  # nothing to fetch in it: it settles at once
            _settle(decider, out, request, selected, [], [])
        elif _directories_done(transaction.selected) or _only_directories(selected):
            _send(decider, out, selected)
    return out + decider._finish_if_complete(request, transaction)


def _send(decider: Decider, out: list[Outgoing], selected: FilesSelected) -> None:
    out.append(_work(decider, selected))
    decider._status(out, selected, "TRANSFER_GETTING", selected.sub_batch)


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
    if selected is not None:
        waiting = not _directories_done(transaction.selected)
        _settle(decider, out, report, selected, list(report.restored), list(report.failed))
        if waiting and _directories_done(transaction.selected):  # the last ones came
            for batch in sorted(transaction.selected.values(), key=lambda s: s.sub_batch):
                if batch.files:
                    _send(decider, out, batch)
    return out + decider._finish_if_complete(report, transaction)


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
    fetchable, unavailable = _needs_recall(selection.files, selection.on_tape)
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
    if len(batches) > 1:  # directories first, alone: see D34
        folders = [f for f in fetchable if f["path_type"] == "DIRECTORY"]
        others = [f for f in fetchable if f["path_type"] != "DIRECTORY"]
        batches = sub_batches(folders, decider.limits) + sub_batches(others, decider.limits)
    planned: list[tuple[list[SelectedFile], list[FileFailure]]] = [(f, []) for f in batches]
    step = decider.limits.max_files
    planned += [([], unavailable[i : i + step]) for i in range(0, len(unavailable), step)]
    for number, (files, refused) in enumerate(planned):
        decider._fact(
            out,
            FilesSelected(
                **decider._envelope(request, f"selected/{number}"),
                sub_batch=number,
                last=number == len(planned) - 1,
                target=request.target,
                overwrite=request.overwrite,
                files=files,
                unavailable=refused,
            ),
        )
    return None


def _needs_recall(
    files: Sequence[SelectedFile], on_tape: frozenset[int]
) -> tuple[list[SelectedFile], list[FileFailure]]:
    """The entries transfer-get can restore now, and the files it cannot fetch.

    A file with no object-store copy but a tape copy needs a recall (stage) of its
    aggregate first; until recalls exist it fails with ``ONLY_ON_TAPE``. Directories and
    links need no copy: the catalog holds all of them.
    """
    fetchable: list[SelectedFile] = []
    unavailable: list[FileFailure] = []
    for entry in files:
        if entry["path_type"] != "FILE" or entry["object_key"]:
            fetchable.append(entry)
        elif entry["file_id"] in on_tape:
            unavailable.append(
                FileFailure(path=entry["path"], reason=ONLY_ON_TAPE, retryable=False)
            )
        else:
            unavailable.append(FileFailure(path=entry["path"], reason=NO_COPY, retryable=False))
    return fetchable, unavailable


def sub_batches(files: Sequence[SelectedFile], limits: Limits) -> list[list[SelectedFile]]:
    """``files`` in order, cut into runs of at most ``limits.max_files`` entries and about
    ``limits.max_bytes`` (a larger file gets a run of its own)."""
    batches: list[list[SelectedFile]] = []
    current: list[SelectedFile] = []
    size = 0
    for entry in files:
        if current and (
            len(current) >= limits.max_files or size + entry["size"] > limits.max_bytes
        ):
            batches.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry["size"]
    if current:
        batches.append(current)
    return batches


def _work(decider: Decider, selected: FilesSelected) -> Outgoing:
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
            files=list(selected.files),
        ),
    )


def _settle(
    decider: Decider,
    out: list[Outgoing],
    cause: GetRequested | FilesRestored,
    selected: FilesSelected,
    done: list[RestoredFile],
    failed: list[FileFailure],
) -> None:
    """Record the outcome of one sub-batch; a selected entry without a result failed."""
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


def _failure(path: bytes, reason: str) -> FileFailure:
    return FileFailure(path=path, reason=reason, retryable=False)
