"""Archiving one dataset of a SciCat archive job, step by step: the lifecycle says
``started``; the dataset's files (its origdatablocks, under its ``sourceFolder``) are
PUT into the holding labelled by the dataset's pid, as ``scicat.account`` (whose Unix
account reads them, D95, D173); the holding is archived to tape; a datablock per
aggregate is posted; the lifecycle says ``datasetOnArchiveDisk``, retrievable.

Files that cannot be read (missing, unreadable) are the dataset's fault:
``missingFilesError``. Each step is recorded in the job's journal before the next."""

from __future__ import annotations

import os
from typing import Any

from events.base import event_id_for
from events.requests import PutRequested
from processors.app import now_ms
from processors.scicat.datablocks import datablocks, on_tape, outside, source_paths
from processors.scicat.job import Failure, Work, wait_finished
from processors.scicat.journal import OK, SYSTEM_ERROR, USER_ERROR, Done, Journal

MISSING = "missingFilesError"


def archive_dataset(
    work: Work, journal: Journal, job: dict[str, Any], dataset: dict[str, Any]
) -> dict[str, Any]:
    pid = dataset["pid"]
    account = work.settings.account
    journal.once(pid, "lifecycle-started", lambda: _lifecycle_started(work, pid))
    found = work.scicat.dataset(pid)
    source_folder = found.get("sourceFolder", "")
    paths = source_paths(source_folder, work.scicat.origdatablocks(pid))
    if dataset.get("files"):
        paths = sorted(set(paths) & set(source_paths(source_folder, [_listed(dataset)])))
    if not paths:
        raise Failure(USER_ERROR, MISSING, f"dataset {pid} lists no files to archive")
    escaping = outside(source_folder, paths)
    if escaping:
        shown = escaping[0].decode("utf-8", "backslashreplace")
        raise Failure(
            USER_ERROR,
            MISSING,
            f"dataset {pid} lists {len(escaping)} files outside its sourceFolder "
            f"{source_folder!r}, e.g. {shown}: nothing is archived from there",
        )
    journal.once(pid, "files-listed", lambda: Done(OK, f"{len(paths)} files under {source_folder}"))
    put = journal.once(pid, "put-requested", lambda: _put(work, journal, pid, paths))
    transaction_id = put.transaction_id
    if transaction_id is not None:
        journal.once(pid, "put-finished", lambda: _put_finished(work, pid, transaction_id))
    journal.once(pid, "archive-requested", lambda: _archive(work, pid))
    work.wait(lambda: on_tape(work.reads.holding_files(account, pid), paths), "the archive to tape")
    journal.record(pid, "archived", Done(OK, f"{len(paths)} files on tape"))
    blocks = datablocks(work.reads.holding_files(account, pid), paths, source_folder)
    journal.once(pid, "datablocks-posted", lambda: _post(work, pid, blocks))
    journal.once(pid, "lifecycle-done", lambda: _lifecycle_done(work, pid, blocks))
    return {
        "datasetId": pid,
        "archiveIds": [b["archiveId"] for b in blocks],
        "size": sum(b["size"] for b in blocks),
    }


def _listed(dataset: dict[str, Any]) -> dict[str, Any]:
    """The job's own file selection, as an origdatablock's file list."""
    return {"dataFileList": [{"path": p} for p in dataset["files"]]}


def _lifecycle_started(work: Work, pid: str) -> Done:
    work.scicat.lifecycle(pid, archiveStatusMessage="started")
    return Done(OK, "started")


def _put(work: Work, journal: Journal, pid: str, paths: list[bytes]) -> Done:
    """PUT the files not cataloged yet (a dataset archived again after missing files
    keeps what it has); the request's id follows from the job, so a repeat is one PUT."""
    held = {f.path for f in work.reads.holding_files(work.settings.account, pid)}
    wanted = [p for p in paths if p not in held]
    if not wanted:
        return Done(OK, "every file is in the holding already")
    transaction_id = event_id_for(journal.job.job_id, "scicat", pid, "put")
    work.steps.request(
        PutRequested(
            event_id=event_id_for(transaction_id, "requested"),
            transaction_id=transaction_id,
            user=work.settings.account,
            group=work.settings.group,
            cause_id=journal.job.event_id,
            occurred_at=now_ms(),
            label=pid,
            holding_id=None,
            tags={"scicat_job": journal.job.job_id},
            paths=wanted,
            path_list_file=None,
            job_label=f"scicat {journal.job.job_id[:8]}",
            api_action="putlist",
        )
    )
    return Done(OK, f"{len(wanted)} files", transaction_id)


def _put_finished(work: Work, pid: str, transaction_id: str) -> Done:
    result = wait_finished(work, transaction_id, "the PUT of the dataset's files")
    if result.failures:
        shown = [f"{os.fsdecode(p)}: {r}" for p, r in sorted(result.failures.items())]
        more = f" (and {len(shown) - 5} more)" if len(shown) > 5 else ""
        raise Failure(
            USER_ERROR,
            MISSING,
            f"{len(shown)} files of dataset {pid} could not be read: {'; '.join(shown[:5])}{more}",
        )
    if result.state != "COMPLETE":
        raise Failure(SYSTEM_ERROR, "", f"the PUT of dataset {pid} ended {result.state}")
    return Done(OK, result.state, transaction_id)


def _archive(work: Work, pid: str) -> Done:
    files = work.reads.holding_files(work.settings.account, pid)
    if not files:
        raise Failure(SYSTEM_ERROR, "", f"no holding labelled {pid} after its PUT")
    holding_id = files[0].holding_id
    aggregates = work.reads.archive(holding_id)
    return Done(OK, f"holding {holding_id}: {aggregates} aggregates asked for")


def _post(work: Work, pid: str, blocks: list[dict[str, Any]]) -> Done:
    """Post the datablocks SciCat lacks: after a restart, those posted before are kept."""
    posted = {b.get("archiveId") for b in work.scicat.datablocks(pid)}
    for block in blocks:
        if block["archiveId"] not in posted:
            work.scicat.post_datablock(pid, block)
    return Done(OK, " ".join(b["archiveId"] for b in blocks))


def _lifecycle_done(work: Work, pid: str, blocks: list[dict[str, Any]]) -> Done:
    work.scicat.lifecycle(
        pid,
        archiveStatusMessage="datasetOnArchiveDisk",
        archivable=False,
        retrievable=True,
        archiveReturnMessage={"archiveIds": [b["archiveId"] for b in blocks]},
    )
    return Done(OK, "datasetOnArchiveDisk")
