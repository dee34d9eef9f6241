"""nearline as SciCat's archive system, against a real SciCat (scicat-backend-next on
FerretDB) and the real stack: SciCat's own ``POST /api/v4/jobs`` calls nearline through
its ``url`` job action, and the adapter archives, retrieves and reports back.

Slow (minutes: real PUTs, tape archives and recalls); run with ``make scicat-test``."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections import Counter
from urllib.parse import quote

import httpx
import pytest
from confluent_kafka import TopicPartition

from admin import processes
from domain.access import Scope
from events.codec import decode
from events.scicat import ScicatStepRecorded
from events.topics import SCICAT
from nearline import bus
from nearline.partitioning import partition_for
from nearline.settings import Settings
from projections.queries.files import find_files
from projections.queries.filters import HoldingSelector
from stack.scicat_user import ScicatUser
from stores.tape.endpoint import TapeEndpoint
from tests.integration.archive.recall_helpers import archive_evict_and_purge
from tests.integration.scicat.conftest import start_adapter

pytestmark = [pytest.mark.slow, pytest.mark.peers]


def held(engine, account: str, pid: str):
    with engine.connect() as conn:
        return find_files(conn, Scope(account), HoldingSelector(pid), path_type="FILE")


def steps_of(settings: Settings, job_id: str) -> list[ScicatStepRecorded]:
    """Every step recorded for the job, repeats included."""
    partition = partition_for(job_id.encode(), settings.kafka.partitions)
    consumer = bus.consumer(settings, group="nearline-scicat-fold")
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(SCICAT, partition), 30)
        if high <= low:
            return []
        consumer.assign([TopicPartition(SCICAT, partition, low)])
        found, position = [], low
        while position < high:
            message = consumer.poll(5)
            if message is None or message.error():
                continue
            position = message.offset() + 1
            event = decode(message.value())
            if isinstance(event, ScicatStepRecorded) and event.job_id == job_id:
                found.append(event)
        return found
    finally:
        consumer.close()


def archived(scicat: ScicatUser, nearline_api: str, adapter, source, group: str) -> str:
    """A dataset of ``source`` archived by a SciCat archive job; its pid."""
    pid = scicat.dataset(source.path, source.files, group)
    created = scicat.job("archive", [pid], group)
    assert created.status_code == 201, created.text
    job = scicat.wait_job(created.json()["id"])
    assert job["statusCode"] == "finishedSuccessful", job
    return pid


def test_an_archive_job_puts_the_files_on_tape_and_reports_datablocks(
    settings, engine, scicat, nearline_api, adapter, make_source, scicat_account
):
    account, group = scicat_account
    source = make_source(3)
    pid = scicat.dataset(source.path, source.files, group)

    created = scicat.job("archive", [pid], group)
    assert created.status_code == 201, created.text  # SciCat's url action got nearline's 201
    job = scicat.wait_job(created.json()["id"])

    assert job["statusCode"] == "finishedSuccessful", job
    [result] = job["jobResultObject"]["result"]
    assert result["datasetId"] == pid
    files = held(engine, account, pid)
    assert {f.path for f in files} == {os.fsencode(source.path / n) for n in source.files}
    assert all(any(c.storage_type == "TAPE" for c in f.locations) for f in files)
    blocks = scicat.datablocks(pid)
    assert sorted(b["archiveId"] for b in blocks) == sorted(result["archiveIds"])
    listed = {e["path"]: e for b in blocks for e in b["dataFileList"]}
    assert set(listed) == set(source.files)
    for name, data in source.files.items():
        assert listed[name]["chk"] == hashlib.sha256(data).hexdigest()
        assert listed[name]["size"] == len(data)
    assert all(b["chkAlg"] == "sha256" and b["version"] for b in blocks)
    lifecycle = scicat.get_dataset(pid)["datasetlifecycle"]
    assert lifecycle["archiveStatusMessage"] == "datasetOnArchiveDisk"
    assert lifecycle["retrievable"] is True and lifecycle["archivable"] is False


def test_a_retrieve_job_recalls_from_tape_and_restores_the_dataset(
    settings, engine, scicat, nearline_api, adapter, make_source, scicat_account, retrieve_root
):
    account, group = scicat_account
    source = make_source(2)
    pid = archived(scicat, nearline_api, adapter, source, group)
    holding_id = held(engine, account, pid)[0].holding_id
    tape = TapeEndpoint(settings.tape.url, settings.tape.root)
    archive_evict_and_purge(settings, engine, bus.producer(settings), tape, holding_id)
    assert all(
        {c.storage_type for c in f.locations} == {"TAPE"} for f in held(engine, account, pid)
    )

    created = scicat.job("retrieve", [pid], group)
    assert created.status_code == 201, created.text
    job = scicat.wait_job(created.json()["id"])

    assert job["statusCode"] == "finishedSuccessful", job
    [result] = job["jobResultObject"]["result"]
    target = retrieve_root / quote(pid, safe="")
    assert result["url"] == f"file://{quote(str(target))}"
    for name, data in source.files.items():
        restored = target / str(source.path).lstrip("/") / name
        assert restored.read_bytes() == data
    lifecycle = scicat.get_dataset(pid)["datasetlifecycle"]
    assert lifecycle["retrieveStatusMessage"] == "datasetRetrieved"


def test_a_missing_file_is_the_datasets_error_reported_to_scicat(
    settings, engine, scicat, nearline_api, adapter, make_source, scicat_account
):
    _, group = scicat_account
    source = make_source(2)
    listed = source.files | {"run/gone.dat": b"never written"}
    pid = scicat.dataset(source.path, listed, group)

    job = scicat.wait_job(scicat.job("archive", [pid], group).json()["id"])

    assert job["statusCode"] == "finishedWithDatasetErrors", job
    [result] = job["jobResultObject"]["result"]
    assert result["error"] == "missingFilesError" and "gone.dat" in result["message"]
    lifecycle = scicat.get_dataset(pid)["datasetlifecycle"]
    assert lifecycle["archiveStatusMessage"] == "missingFilesError"
    assert "gone.dat" in lifecycle["archiveReturnMessage"]["error"]
    assert lifecycle["retrievable"] is False
    assert scicat.datablocks(pid) == []


def test_a_system_failure_is_reported_not_left_stuck(
    settings, engine, scicat, nearline_api, adapter, processors, make_source, scicat_account
):
    """Tape writes stop (archive-put down): the job cannot finish its archive, and SciCat
    hears so within the adapter's wait, instead of a dataset stuck in ``started``."""
    _, group = scicat_account
    source = make_source(1)
    pid = scicat.dataset(source.path, source.files, group)
    processes.stop(settings, ["archive-put"])
    start_adapter(settings, processors, adapter | {"NEARLINE_SCICAT__WAIT_TIMEOUT_S": "20"})
    try:
        job = scicat.wait_job(scicat.job("archive", [pid], group).json()["id"])
    finally:
        processes.start(settings, ["archive-put"], env=processors, log=lambda _line: None)
        start_adapter(settings, processors, adapter)

    assert job["statusCode"] == "finishedUnsuccessful", job
    [result] = job["jobResultObject"]["result"]
    assert result["error"] == "scheduleArchiveJobFailed"
    assert "archive to tape did not finish" in result["message"]
    lifecycle = scicat.get_dataset(pid)["datasetlifecycle"]
    assert lifecycle["archiveStatusMessage"] == "scheduleArchiveJobFailed"
    assert lifecycle["archivable"] is True and lifecycle["retrievable"] is False


def test_a_job_survives_a_killed_adapter_and_no_step_is_done_twice(
    settings, engine, scicat, nearline_api, adapter, processors, make_source, scicat_account
):
    account, group = scicat_account
    source = make_source(4)
    pid = scicat.dataset(source.path, source.files, group)
    job_id = scicat.job("archive", [pid], group).json()["id"]
    deadline = time.monotonic() + 120
    while not {s.step for s in steps_of(settings, job_id)} & {"put-requested"}:
        assert time.monotonic() < deadline, "the adapter did not start the job"
        time.sleep(0.2)
    pid_of_adapter = processes.daemon(settings, "scicat").pid()
    assert pid_of_adapter is not None
    os.killpg(pid_of_adapter, signal.SIGKILL)
    assert "job-finished" not in {s.step for s in steps_of(settings, job_id)}
    assert scicat.get_job(job_id)["statusCode"] == "inProgress"
    start_adapter(settings, processors, adapter)

    job = scicat.wait_job(job_id)

    assert job["statusCode"] == "finishedSuccessful", job
    recorded = Counter((s.dataset_pid, s.step) for s in steps_of(settings, job_id))
    assert recorded and max(recorded.values()) == 1, recorded
    files = held(engine, account, pid)
    assert sorted(f.path for f in files) == sorted(
        os.fsencode(source.path / n) for n in source.files
    )  # one PUT: each file cataloged once, in one holding
    assert len({f.transaction_id for f in files}) == 1
    aggregates = {c.root for f in files for c in f.locations if c.storage_type == "TAPE"}
    assert sorted(b["archiveId"] for b in scicat.datablocks(pid)) == sorted(aggregates)


def test_the_job_route_takes_only_scicats_token(settings, nearline_api, adapter):
    url = f"{nearline_api}/scicat/jobs"
    body = {"id": "0d6c2a7e-0000-4000-8000-000000000000", "type": "archive"}
    assert httpx.post(url, json=body).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert httpx.post(url, json=body, headers=wrong).status_code == 401
    right = {"Authorization": f"Bearer {adapter['NEARLINE_SCICAT__JOB_TOKEN']}"}
    refused = httpx.post(url, json=body | {"type": "publish"}, headers=right)
    assert refused.status_code == 400 and "archive or retrieve" in refused.json()["detail"]
    assert httpx.post(url, json={"type": "archive"}, headers=right).status_code == 422


def test_v3_sites_see_the_job_finished_through_jobstatusmessage(
    settings, scicat, nearline_api, adapter, processors, make_source, scicat_account
):
    """Production archivers still finish jobs on SciCat's v3 route (scicat.job_api=v3)."""
    _, group = scicat_account
    source = make_source(1)
    pid = scicat.dataset(source.path, source.files, group)
    start_adapter(settings, processors, adapter | {"NEARLINE_SCICAT__JOB_API": "v3"})
    try:
        job_id = scicat.job("archive", [pid], group).json()["id"]
        deadline = time.monotonic() + 300
        while True:
            v3 = scicat.http.get(f"/v3/jobs/{job_id}", headers=scicat.headers).json()
            if v3.get("jobStatusMessage", "").startswith("finished"):
                break
            assert time.monotonic() < deadline, v3
            time.sleep(1)
    finally:
        start_adapter(settings, processors, adapter)

    assert v3["jobStatusMessage"] == "finishedSuccessful", v3
    # SciCat's v3 route sets both v4 fields from jobStatusMessage; nearline's v4 PATCH
    # would have left its own statusMessage ("archive done by nearline").
    v4 = scicat.get_job(job_id)
    assert (v4["statusCode"], v4["statusMessage"]) == ("finishedSuccessful",) * 2, v4
    assert scicat.get_dataset(pid)["datasetlifecycle"]["retrievable"] is True
