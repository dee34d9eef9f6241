"""The API as a real process (``python -m api``) over the stack: its catalog is the
PostgreSQL database the processors project into, its requests go to the stack's Kafka,
and it authenticates host accounts (groups from the host, passwords from a users file)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.auth.users import add_user
from nearline.settings import Settings
from tests.integration.conftest import TEST_QUOTAS

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Account:
    user: str
    group: str
    password: str


@pytest.fixture(scope="session")
def accounts(users: dict[str, tuple[str, str]]) -> dict[str, Account]:
    """The test host accounts, each with a password in the API's users file."""
    return {
        name: Account(user, group, secrets.token_urlsafe(12))
        for name, (user, group) in users.items()
    }


@pytest.fixture(scope="session")
def api_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("api") / "api.log"


@pytest.fixture(scope="session")
def api_url(
    settings: Settings,
    catalog_url: str,
    processors: dict[str, str],
    accounts: dict[str, Account],
    api_log: Path,
    tmp_path_factory,
) -> Iterator[str]:
    """The URL of a running ``python -m api``, stopped after the session."""
    users_file = tmp_path_factory.mktemp("auth") / "users.toml"
    for account in accounts.values():
        add_user(users_file, account.user, account.password, [])
    env = os.environ | {
        "NEARLINE_HOME": str(settings.home),
        "NEARLINE_QUOTAS": json.dumps(TEST_QUOTAS),
        "NEARLINE_CATALOG__URL": catalog_url,
        "NEARLINE_AUTH__LOCAL__DIRECTORY": "host",
        "NEARLINE_AUTH__LOCAL__USERS_FILE": str(users_file),
    }
    url = f"http://127.0.0.1:{settings.ports.api}"
    with api_log.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/probe/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start: {api_log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the test accounts can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="nearline-api-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
