"""The API as a real process (``python -m api``) over the stack: its catalog is the
PostgreSQL database the processors project into, its requests go to the stack's Kafka,
and it authenticates host accounts (groups from the host, passwords from a users file)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
def api_users_file(accounts: dict[str, Account], tmp_path_factory) -> Path:
    """The API's users file, with a password for each test account (a test may add an
    account of its own: the API reads the file again when it changes)."""
    users_file = tmp_path_factory.mktemp("auth") / "users.toml"
    for account in accounts.values():
        add_user(users_file, account.user, account.password, [])
    return users_file


@pytest.fixture(scope="session")
def api_env(settings: Settings, catalog_url: str, api_users_file: Path) -> dict[str, str]:
    """The environment of the API under test (a test may start a second one with it)."""
    users_file = api_users_file
    return os.environ | {
        "NEARLINE_HOME": str(settings.home),
        "NEARLINE_QUOTAS": json.dumps(TEST_QUOTAS),
        "NEARLINE_CATALOG__URL": catalog_url,
        "NEARLINE_AUTH__LOCAL__DIRECTORY": "host",
        "NEARLINE_AUTH__LOCAL__USERS_FILE": str(users_file),
        # The suites log the same accounts in many times a minute, from one address.
        "NEARLINE_AUTH__LOCAL__TOKEN_REQUESTS_PER_USER": "10000",
        "NEARLINE_AUTH__LOCAL__TOKEN_REQUESTS_PER_ADDRESS": "10000",
        "NEARLINE_KAFKA__SASL_USERNAME": "api",  # its own principal, not the tests' admin
    }


@pytest.fixture(scope="session")
def api_url(
    settings: Settings, api_env: dict[str, str], processors: dict[str, str], api_log: Path
) -> Iterator[str]:
    """The URL of a running ``python -m api``, stopped after the session."""
    with running_api(api_env, settings.ports.api, api_log) as url:
        yield url


@contextmanager
def running_api(env: dict[str, str], port: int, log_file: Path) -> Iterator[str]:
    """``python -m api`` with ``env`` on ``port``, its output in ``log_file``; its URL
    once it answers, and the process stopped afterwards."""
    url = f"http://127.0.0.1:{port}"
    with socket.socket() as probe:  # else the answers would come from whatever holds it
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is taken: set NEARLINE_PORTS__API to a free one")
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api"],
            cwd=REPO,
            env=env | {"NEARLINE_PORTS__API": str(port)},
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
                raise RuntimeError(f"the API did not start: {log_file.read_text()[-2000:]}")
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
