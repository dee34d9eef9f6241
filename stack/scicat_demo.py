"""``make demo-scicat``: nearline as SciCat's archive system, end to end.

A real SciCat (``stack.scicat``: scicat-backend-next on FerretDB) hands its archive and
retrieve jobs to nearline through its ``url`` job action. The demo runs nearline's
processes under ``nearline-admin serve`` with ``scicat.enabled``, registers a dataset in
SciCat as a facility's ingestor would, asks SciCat to archive it and shows each step the
adapter records, the datablocks and the lifecycle SciCat ends with; then evicts the
cache copies (tape only) and asks SciCat to retrieve the dataset, and compares the
restored files with the originals.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy import select

from admin import supervisor
from events.scicat import ScicatStepRecorded
from nearline.settings import Settings
from processors.scicat.journal import KafkaSteps
from projections import tables as t
from projections.db import catalog_engine
from projections.migrate import upgrade
from stack import scicat as scicat_stack
from stack.demo import demo_account, evict_everything, hand_over
from stack.scicat_user import ScicatUser


def follow(user: ScicatUser, steps: KafkaSteps, job_id: str) -> dict:
    """Print the job's steps as the adapter records them, until SciCat shows it finished."""
    shown: set[tuple[str, str]] = set()
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        for (pid, step), event in sorted(steps.fold(job_id).items(), key=_when):
            if (pid, step) not in shown:
                shown.add((pid, step))
                print(f"  step {step:<18} {event.outcome:<12} {event.detail[:90]}")
        job = user.get_job(job_id)
        if job.get("statusCode") in {
            "finishedSuccessful",
            "finishedWithDatasetErrors",
            "finishedUnsuccessful",
        }:
            return job
        time.sleep(1)
    raise TimeoutError(f"SciCat job {job_id} did not finish")


def wait_for_api(settings: Settings, timeout: float = 60) -> None:
    """SciCat's job action fails at once if nearline's API does not answer yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{settings.ports.api}/probe/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError("nearline's API did not answer")


def _when(item: tuple[tuple[str, str], ScicatStepRecorded]) -> int:
    return item[1].occurred_at


def main() -> int:
    settings = Settings()
    print(f"starting SciCat (scicat-backend-next on FerretDB) at {scicat_stack.url(settings)}")
    scicat_stack.up(settings)
    user, group, place = demo_account(settings)
    source = place / "scicat-dataset"
    shutil.rmtree(source, ignore_errors=True)
    files = {f"scan/frame_{i:03d}.h5": os.urandom(20_000 + i) for i in range(5)}
    for name, data in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    retrieved = place / "scicat-retrieved"
    shutil.rmtree(retrieved, ignore_errors=True)
    retrieved.mkdir()
    hand_over(place, user)
    env = scicat_stack.nearline_env(settings) | {
        "NEARLINE_SCICAT__ACCOUNT": user,
        "NEARLINE_SCICAT__GROUP": group,
        "NEARLINE_SCICAT__RETRIEVE_ROOT": str(retrieved),
        "NEARLINE_SCICAT__POLL_S": "0.5",
    }
    os.environ.update(env)  # the processes serve starts inherit them
    settings = Settings()
    engine = catalog_engine(settings)
    upgrade(engine)
    steps = KafkaSteps(settings)
    scicat = ScicatUser(settings)
    print("starting nearline's processes under `nearline-admin serve`, scicat.enabled")
    with supervisor.supervised(settings):
        wait_for_api(settings)
        pid = scicat.dataset(source, files, group)
        print(f"\n1. a dataset in SciCat: {pid}, {len(files)} files under {source}")
        created = scicat.job("archive", [pid], group)
        if created.status_code != 201:
            print(f"SciCat could not hand the job to nearline: {created.text}")
            return 1
        job_id = created.json()["id"]
        print(f"\n2. ARCHIVE job {job_id}: SciCat called nearline's /scicat/jobs")
        archived = follow(scicat, steps, job_id)
        print(f"  SciCat: {archived['statusCode']}: {archived.get('statusMessage')}")
        for block in scicat.datablocks(pid):
            print(
                f"  datablock {block['archiveId']}: {len(block['dataFileList'])} files, "
                f"{block['size']} bytes, {block['chkAlg']}"
            )
        lifecycle = scicat.get_dataset(pid)["datasetlifecycle"]
        print(
            f"  lifecycle: {lifecycle['archiveStatusMessage']}, "
            f"retrievable={lifecycle['retrievable']}"
        )

        print("\n3. EVICT: the dataset is on tape only")
        with engine.connect() as conn:
            holding_id, transaction_id = conn.execute(
                select(t.files.c.holding_id, t.files.c.transaction_id)
                .join(t.holdings, t.holdings.c.id == t.files.c.holding_id)
                .where(t.holdings.c.label == pid)
                .limit(1)
            ).one()
        evict_everything(settings, engine, holding_id, transaction_id)

        created = scicat.job("retrieve", [pid], group)
        if created.status_code != 201:
            print(f"SciCat could not hand the job to nearline: {created.text}")
            return 1
        job_id = created.json()["id"]
        print(f"\n4. RETRIEVE job {job_id}")
        got = follow(scicat, steps, job_id)
        print(f"  SciCat: {got['statusCode']}: {got.get('statusMessage')}")
        for entry in got.get("jobResultObject", {}).get("result", []):
            print(f"  {entry}")
    target = retrieved / quote(pid, safe="") / str(source).lstrip("/")
    differ = [n for n, d in files.items() if _read(target / n) != d]
    ok = archived["statusCode"] == got["statusCode"] == "finishedSuccessful" and not differ
    if not ok:
        print(
            f"\nSciCat demo FAILED: archive {archived['statusCode']}, retrieve "
            f"{got['statusCode']}, {len(differ)} files differ"
        )
        return 1
    print(
        f"\nSciCat demo finished: archived to tape, datablocks and lifecycle in SciCat, "
        f"and every file retrieved from tape into {target}"
    )
    return 0


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
