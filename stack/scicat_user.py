"""SciCat as a facility's users see it (the local SciCat of ``stack.scicat``): a raw
dataset with its origdatablock, an archive or retrieve job through SciCat's own
``POST /api/v4/jobs``, and what SciCat then shows. Used by the tests and the demo."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from nearline.settings import Settings
from stack import scicat as scicat_stack

FINISHED = {"finishedSuccessful", "finishedWithDatasetErrors", "finishedUnsuccessful"}


class ScicatUser:
    """SciCat's ingestor account: creates datasets and jobs, reads what the archive did."""

    def __init__(self, settings: Settings) -> None:
        values = scicat_stack.secret_values(settings)
        self.http = httpx.Client(base_url=f"{scicat_stack.url(settings)}/api", timeout=60)
        response = self.http.post(
            "/v3/auth/login",
            json={
                "username": scicat_stack.INGESTOR_ACCOUNT,
                "password": values["ingestor_password"],
            },
        )
        response.raise_for_status()
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def dataset(self, source_folder: Path, files: dict[str, bytes], group: str) -> str:
        """A raw dataset of ``files`` (relative to ``source_folder``), with its origdatablock."""
        body = {
            "type": "raw",
            "ownerGroup": group,
            "accessGroups": [],
            "owner": "scientist",
            "contactEmail": "scientist@example.org",
            "sourceFolder": str(source_folder),
            "creationTime": "2026-01-01T00:00:00Z",
            "principalInvestigator": "pi",
            "creationLocation": "beamline",
            "datasetName": f"nearline example {uuid.uuid4().hex[:6]}",
            "isPublished": False,
            "datasetlifecycle": {"archivable": True, "retrievable": False},
        }
        response = self.http.post("/v3/datasets", json=body, headers=self.headers)
        if response.status_code != 201:
            raise RuntimeError(f"SciCat refused the dataset: {response.text}")
        pid: str = response.json()["pid"]
        block = {
            "size": sum(len(d) for d in files.values()),
            "dataFileList": [
                {"path": name, "size": len(data), "time": "2026-01-01T00:00:00Z"}
                for name, data in files.items()
            ],
        }
        response = self.http.post(
            f"/v3/datasets/{_part(pid)}/origdatablocks", json=block, headers=self.headers
        )
        if response.status_code != 201:
            raise RuntimeError(f"SciCat refused the origdatablock: {response.text}")
        return pid

    def job(self, job_type: str, pids: list[str], group: str) -> httpx.Response:
        """SciCat's own job creation, which runs the job configuration's url action."""
        body = {
            "type": job_type,
            "ownerGroup": group,
            "jobParams": {"datasetList": [{"pid": pid, "files": []} for pid in pids]},
        }
        return self.http.post("/v4/jobs", json=body, headers=self.headers)

    def get_job(self, job_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v4/jobs/{_part(job_id)}", headers=self.headers)
        response.raise_for_status()
        job: dict[str, Any] = response.json()
        return job

    def wait_job(self, job_id: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get_job(job_id)
            if job.get("statusCode") in FINISHED:
                return job
            time.sleep(1)
        raise TimeoutError(f"SciCat job {job_id} did not finish: {self.get_job(job_id)}")

    def get_dataset(self, pid: str) -> dict[str, Any]:
        response = self.http.get(f"/v3/datasets/{_part(pid)}", headers=self.headers)
        response.raise_for_status()
        dataset: dict[str, Any] = response.json()
        return dataset

    def datablocks(self, pid: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/v3/datasets/{_part(pid)}/datablocks", headers=self.headers)
        response.raise_for_status()
        blocks: list[dict[str, Any]] = response.json()
        return blocks


def _part(value: str) -> str:
    return quote(value, safe="")
