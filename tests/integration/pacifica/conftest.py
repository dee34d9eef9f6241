"""The Pacifica archive interface served by a real ``python -m api`` (mounted) and a real
``python -m api.pacifica`` (alone, in the trusted-network mode) over the stack, in a
namespace of their own per session (ids are kept forever in a namespace)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
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
from tests.integration.api.conftest import running_api
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
    with running_api(pacifica_env, settings.ports.api + 1, log) as url:
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
