"""The Pacifica archive interface served by a real ``python -m api`` (mounted) and a real
``python -m api.pacifica`` (alone, in the trusted-network mode) over the stack, in a
namespace of their own per session (ids are kept forever in a namespace)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from api.auth.users import add_user
from nearline.settings import Settings
from tests.integration.accounts import ensure_account
from tests.integration.api.client import password_grant
from tests.integration.api.conftest import REPO, running_api
from tests.integration.conftest import TEST_QUOTAS

ACCOUNT = ("nl-pacifica", "nl-pacifica")
PREFIX = "/pacifica/archive"


@dataclass
class Archive:
    """One archive interface: its base URL (ending in ``/``) and the headers to send."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=300, **kwargs)


@pytest.fixture(scope="session")
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def ingest_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="nearline-pacifica-ingest-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pacifica_env(
    settings: Settings, catalog_url: str, namespace: str, ingest_folder: Path, tmp_path_factory
) -> dict[str, str]:
    """The environment of an API with the archive interface, and the account's password."""
    user, _group = ensure_account(*ACCOUNT)
    password = secrets.token_urlsafe(12)
    users_file = tmp_path_factory.mktemp("pacifica-auth") / "users.toml"
    add_user(users_file, user, password, [])
    return os.environ | {
        "NEARLINE_HOME": str(settings.home),
        "NEARLINE_QUOTAS": json.dumps(TEST_QUOTAS),
        "NEARLINE_CATALOG__URL": catalog_url,
        "NEARLINE_AUTH__LOCAL__DIRECTORY": "host",
        "NEARLINE_AUTH__LOCAL__USERS_FILE": str(users_file),
        "NEARLINE_AUTH__LOCAL__TOKEN_REQUESTS_PER_USER": "10000",
        "NEARLINE_AUTH__LOCAL__TOKEN_REQUESTS_PER_ADDRESS": "10000",
        "NEARLINE_KAFKA__SASL_USERNAME": "api",
        "NEARLINE_PACIFICA__ENABLED": "true",
        "NEARLINE_PACIFICA__ACCOUNT": user,
        "NEARLINE_PACIFICA__NAMESPACE": namespace,
        "NEARLINE_PACIFICA__INGEST_FOLDER": str(ingest_folder),
        "PACIFICA_TEST_PASSWORD": password,
    }


@pytest.fixture(scope="session")
def api_with_archive(
    settings: Settings, pacifica_env: dict[str, str], processors: dict[str, str], tmp_path_factory
) -> Iterator[str]:
    """A running ``python -m api`` with the archive interface mounted (its own port, so
    that the API suites' server may run in the same session)."""
    log = tmp_path_factory.mktemp("pacifica-api") / "api.log"
    with running_api(pacifica_env, settings.ports.api + 21, log) as url:
        yield url


@pytest.fixture(scope="session")
def archive(api_with_archive: str, pacifica_env: dict[str, str]) -> Archive:
    """The mounted archive interface, with a token of the namespace's account."""
    token = password_grant(api_with_archive, ACCOUNT[0], pacifica_env["PACIFICA_TEST_PASSWORD"])
    return Archive(
        f"{api_with_archive}{PREFIX}/", {"Authorization": f"Bearer {token['access_token']}"}
    )


def new_id() -> str:
    """A fresh id, decimal as Pacifica's own services make them."""
    return str(uuid.uuid4().int % 10**15)


@pytest.fixture(scope="session")
def trusted_archive(
    settings: Settings,
    pacifica_env: dict[str, str],
    processors: dict[str, str],
    namespace: str,
    tmp_path_factory,
) -> Iterator[Archive]:
    """``python -m api.pacifica`` alone, in the trusted-network mode Pacifica's own
    services expect (no credentials), with a namespace of its own."""
    port = settings.ports.api + 22
    env = pacifica_env | {
        "NEARLINE_PACIFICA__TRUSTED_NETWORK": "true",
        "NEARLINE_PACIFICA__TRUSTED_HOST": "127.0.0.1",
        "NEARLINE_PACIFICA__PORT": str(port),
        "NEARLINE_PACIFICA__NAMESPACE": f"{namespace}-trusted",
    }
    log_file = tmp_path_factory.mktemp("pacifica-alone") / "pacifica.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.pacifica"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}{PREFIX}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"api.pacifica did not start: {log_file.read_text()[-2000:]}")
            time.sleep(0.2)
        yield Archive(url)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def producer(settings: Settings):
    from nearline import bus

    return bus.producer(settings)


@pytest.fixture
def tape(settings: Settings):
    from stores.tape.endpoint import TapeEndpoint

    return TapeEndpoint(settings.tape.url, settings.tape.root)


def holding_of(engine, file_id: str) -> int:
    """The holding a file id was cataloged in."""
    from sqlalchemy import select

    from projections import tables as t

    query = select(t.files.c.holding_id).where(t.files.c.path == f"/{file_id}".encode())
    with engine.connect() as conn:
        return conn.execute(query).scalars().first()


def wait_for_media(client: httpx.Client, file_id: str, media: str, timeout: float = 180) -> None:
    """HEAD until the file's storage media is ``media``, as cartd does."""
    deadline = time.monotonic() + timeout
    while True:
        head = client.head(file_id)
        if head.headers.get("x-pacifica-file-storage-media") == media:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{file_id} is not on {media}: {dict(head.headers)}")
        time.sleep(1)
