"""A real SciCat (scicat-backend-next on FerretDB, ``stack.scicat``) beside the real
stack, nearline's API with ``/scicat`` mounted, and the SciCat adapter working as
SciCat's archive account and as the Unix account ``nl-scicat``."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from admin import processes
from nearline.settings import Settings
from stack import scicat as scicat_stack
from tests.integration.accounts import chown, ensure_account
from tests.integration.api import conftest as api_suite
from tests.integration.api.conftest import running_api

# The API suite's fixtures: its accounts (passwords in a users file) and the API's env.
accounts = api_suite.accounts
api_users_file = api_suite.api_users_file
api_env = api_suite.api_env

FINISHED = {"finishedSuccessful", "finishedWithDatasetErrors", "finishedUnsuccessful"}
WAIT_TIMEOUT_S = 120  # the adapter's wait for a PUT, an archive or a GET


@pytest.fixture(scope="session")
def scicat_account() -> tuple[str, str]:
    return ensure_account("nl-scicat", "nl-scicat")


@pytest.fixture(scope="session")
def retrieve_root(scicat_account: tuple[str, str]) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="nearline-scicat-retrieved-", dir="/tmp"))
    root.chmod(0o755)
    chown(str(root), *scicat_account)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def scicat_url(settings: Settings) -> str:
    """SciCat, started unless it runs (``python -m stack.scicat install`` first)."""
    if not (scicat_stack.root(settings) / "ferretdb").exists():
        pytest.fail("SciCat is not installed: run `python -m stack.scicat install`")
    scicat_stack.up(settings)
    return scicat_stack.url(settings)


@pytest.fixture(scope="session")
def scicat_env(
    settings: Settings, scicat_url: str, scicat_account: tuple[str, str], retrieve_root: Path
) -> dict[str, str]:
    user, group = scicat_account
    return scicat_stack.nearline_env(settings) | {
        "NEARLINE_SCICAT__ACCOUNT": user,
        "NEARLINE_SCICAT__GROUP": group,
        "NEARLINE_SCICAT__RETRIEVE_ROOT": str(retrieve_root),
        "NEARLINE_SCICAT__WAIT_TIMEOUT_S": str(WAIT_TIMEOUT_S),
        "NEARLINE_SCICAT__POLL_S": "0.5",
    }


def start_adapter(settings: Settings, processors: dict[str, str], env: dict[str, str]) -> None:
    processes.stop(settings, ["scicat"])
    processes.start(settings, ["scicat"], env=processors | env, log=lambda _line: None)


@pytest.fixture(scope="session")
def adapter(
    settings: Settings, processors: dict[str, str], scicat_env: dict[str, str]
) -> Iterator[dict[str, str]]:
    """The SciCat adapter, working for this SciCat (the session's processors run it with
    no SciCat configured)."""
    start_adapter(settings, processors, scicat_env)
    yield scicat_env
    processes.stop(settings, ["scicat"])


@pytest.fixture(scope="session")
def nearline_api(
    settings: Settings, api_env: dict[str, str], scicat_env: dict[str, str], tmp_path_factory
) -> Iterator[str]:
    """nearline's API with ``/scicat`` mounted, where SciCat's job action calls it."""
    log = tmp_path_factory.mktemp("scicat-api") / "api.log"
    with running_api(api_env | scicat_env, settings.ports.api, log) as url:
        yield url


class Scicat:
    """SciCat as its users and its archive account see it."""

    def __init__(self, settings: Settings) -> None:
        values = scicat_stack.secret_values(settings)
        self.http = httpx.Client(base_url=f"{scicat_stack.url(settings)}/api", timeout=60)
        self.ingestor = self._login(scicat_stack.INGESTOR_ACCOUNT, values["ingestor_password"])

    def _login(self, user: str, password: str) -> dict[str, str]:
        response = self.http.post("/v3/auth/login", json={"username": user, "password": password})
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

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
            "datasetName": f"nearline test {uuid.uuid4().hex[:6]}",
            "isPublished": False,
            "datasetlifecycle": {"archivable": True, "retrievable": False},
        }
        response = self.http.post("/v3/datasets", json=body, headers=self.ingestor)
        assert response.status_code == 201, response.text
        pid = response.json()["pid"]
        block = {
            "size": sum(len(d) for d in files.values()),
            "dataFileList": [
                {"path": name, "size": len(data), "time": "2026-01-01T00:00:00Z"}
                for name, data in files.items()
            ],
        }
        response = self.http.post(
            f"/v3/datasets/{quote(pid, safe='')}/origdatablocks", json=block, headers=self.ingestor
        )
        assert response.status_code == 201, response.text
        return pid

    def job(self, job_type: str, pids: list[str], group: str) -> httpx.Response:
        body = {
            "type": job_type,
            "ownerGroup": group,
            "jobParams": {"datasetList": [{"pid": pid, "files": []} for pid in pids]},
        }
        return self.http.post("/v4/jobs", json=body, headers=self.ingestor)

    def get_job(self, job_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v4/jobs/{job_id}", headers=self.ingestor)
        response.raise_for_status()
        return response.json()

    def wait_job(self, job_id: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get_job(job_id)
            if job.get("statusCode") in FINISHED:
                return job
            time.sleep(1)
        raise TimeoutError(f"SciCat job {job_id} did not finish: {self.get_job(job_id)}")

    def get_dataset(self, pid: str) -> dict[str, Any]:
        response = self.http.get(f"/v3/datasets/{quote(pid, safe='')}", headers=self.ingestor)
        response.raise_for_status()
        return response.json()

    def datablocks(self, pid: str) -> list[dict[str, Any]]:
        response = self.http.get(
            f"/v3/datasets/{quote(pid, safe='')}/datablocks", headers=self.ingestor
        )
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def scicat(settings: Settings, scicat_url: str) -> Scicat:
    return Scicat(settings)


@dataclass
class SourceFolder:
    path: Path
    files: dict[str, bytes]


@pytest.fixture
def make_source(scicat_account: tuple[str, str]) -> Iterator[Callable[..., SourceFolder]]:
    """Folders of files the adapter's Unix account owns, as a beamline would leave them."""
    made: list[Path] = []

    def make(count: int = 3) -> SourceFolder:
        folder = Path(tempfile.mkdtemp(prefix="nearline-scicat-source-", dir="/tmp"))
        made.append(folder)
        files = {f"run/{i}.dat": os.urandom(1000 + i) for i in range(count)}
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        for path in [folder, *folder.rglob("*")]:
            chown(str(path), *scicat_account)
            path.chmod(0o750 if path.is_dir() else 0o640)
        return SourceFolder(folder, files)

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)
