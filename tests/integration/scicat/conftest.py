"""A real SciCat (scicat-backend-next on FerretDB, ``stack.scicat``) beside the real
stack, nearline's API with ``/scicat`` mounted, and the SciCat adapter working as
SciCat's archive account and as the Unix account ``nl-scicat``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from admin import processes
from nearline.settings import Settings
from stack import scicat as scicat_stack
from stack.scicat_user import ScicatUser
from tests.integration.accounts import chown, ensure_account
from tests.integration.api import conftest as api_suite
from tests.integration.api.conftest import running_api

# The API suite's fixtures: its accounts (passwords in a users file) and the API's env.
accounts = api_suite.accounts
api_users_file = api_suite.api_users_file
api_env = api_suite.api_env

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


@pytest.fixture(scope="session")
def scicat(settings: Settings, scicat_url: str) -> ScicatUser:
    return ScicatUser(settings)


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
