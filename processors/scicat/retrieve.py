"""Retrieving one dataset of a SciCat retrieve job: the lifecycle says ``started``; the
dataset's holding is restored by a nearline GET as ``scicat.account`` into its own folder
under ``scicat.retrieve_root`` (files only on tape are recalled first, as every GET
does); the lifecycle says ``datasetRetrieved`` and the job's result names the folder
(decision D175). A dataset nearline does not hold is the job's fault."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from events.base import event_id_for
from events.requests import GetRequested
from processors.app import now_ms
from processors.scicat.datablocks import TAPE, source_paths
from processors.scicat.job import Failure, Work, wait_finished
from processors.scicat.journal import OK, SYSTEM_ERROR, USER_ERROR, Done, Journal
from processors.scicat.ports import HeldFile

FAILED = "datasetRetrievalFailed"


def retrieve_dataset(
    work: Work, journal: Journal, job: dict[str, Any], dataset: dict[str, Any]
) -> dict[str, Any]:
    pid = dataset["pid"]
    if not work.settings.retrieve_root:
        raise Failure(SYSTEM_ERROR, FAILED, "nearline has no scicat.retrieve_root to restore to")
    journal.once(pid, "lifecycle-started", lambda: _lifecycle(work, pid, "started"))
    files = list(work.reads.holding_files(work.settings.account, pid))
    if dataset.get("files"):
        folder = work.scicat.dataset(pid).get("sourceFolder", "")
        wanted = set(
            source_paths(folder, [{"dataFileList": [{"path": p} for p in dataset["files"]]}])
        )
        files = [f for f in files if f.path in wanted]
    if not files:
        raise Failure(USER_ERROR, FAILED, f"nearline holds no files of dataset {pid}")
    name = quote(pid, safe="")
    if name in ("", ".", ".."):  # would be retrieve_root itself, or above it
        raise Failure(USER_ERROR, FAILED, f"the pid {pid!r} cannot name a folder to restore into")
    target = os.path.join(work.settings.retrieve_root, name)
    journal.once(pid, "files-listed", lambda: Done(OK, f"{len(files)} files"))
    get = journal.once(pid, "get-requested", lambda: _get(work, journal, pid, files, target))
    transaction_id = get.transaction_id or ""
    journal.once(pid, "get-finished", lambda: _get_finished(work, pid, transaction_id))
    journal.once(pid, "lifecycle-done", lambda: _lifecycle(work, pid, "datasetRetrieved", target))
    aggregates = sorted({c.root for f in files for c in f.locations if c.storage_type == TAPE})
    return {
        "datasetId": pid,
        "name": pid,
        "size": sum(f.size for f in files),
        "archiveId": " ".join(aggregates),
        "url": f"file://{quote(target)}",
    }


def _lifecycle(work: Work, pid: str, message: str, target: str | None = None) -> Done:
    fields: dict[str, Any] = {"retrieveStatusMessage": message}
    if target is not None:
        fields["retrieveReturnMessage"] = {"location": target}
    work.scicat.lifecycle(pid, **fields)
    return Done(OK, message)


def _get(work: Work, journal: Journal, pid: str, files: list[HeldFile], target: str) -> Done:
    transaction_id = event_id_for(journal.job.job_id, "scicat", pid, "get")
    work.steps.request(
        GetRequested(
            event_id=event_id_for(transaction_id, "requested"),
            transaction_id=transaction_id,
            user=work.settings.account,
            group=work.settings.group,
            cause_id=journal.job.event_id,
            occurred_at=now_ms(),
            paths=sorted({f.path for f in files}),
            regex=None,
            label=None,
            holding_id=files[0].holding_id,
            tags={},
            target=os.fsencode(target),
            overwrite=True,  # a retrieve asked again replaces what the last one wrote
            job_label=f"scicat {journal.job.job_id[:8]}",
            api_action="getlist",
            groupall=False,
        )
    )
    return Done(OK, f"{len(files)} files to {target}", transaction_id)


def _get_finished(work: Work, pid: str, transaction_id: str) -> Done:
    result = wait_finished(work, transaction_id, "the GET of the dataset's files")
    if result.failures or result.state != "COMPLETE":
        first = next(iter(sorted(result.failures.items())), (b"", result.state))
        raise Failure(
            SYSTEM_ERROR,
            FAILED,
            f"the retrieval of dataset {pid} ended {result.state}: "
            f"{os.fsdecode(first[0])} {first[1]}".strip(),
        )
    return Done(OK, result.state, transaction_id)
