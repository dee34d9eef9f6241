"""Pacifica's cart wire served by a real ``python -m api`` over the stack, in a namespace
of its own per session, its files put by id through the archive interface mounted
beside it (D145: the id is the path in the namespace's holding)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from api.auth.users import add_user
from domain.pacifica import holding_label
from nearline.settings import Settings
from tests.integration.accounts import ensure_account
from tests.integration.api.client import password_grant
from tests.integration.api.conftest import running_api
from tests.integration.conftest import TEST_QUOTAS

ACCOUNT = ("nl-pacifica", "nl-pacifica")
PREFIX = "/pacifica/cart"
ARCHIVE = "/pacifica/archive"


@dataclass
class Caller:
    """One caller of the cart wire: its base URL (no trailing ``/``) and token."""

    url: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.auth, timeout=120)


@pytest.fixture(scope="session")
def namespace() -> str:
    return f"c{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def passwords(users: dict[str, tuple[str, str]]) -> dict[str, str]:
    ensure_account(*ACCOUNT)
    return {ACCOUNT[0]: secrets.token_urlsafe(12), users["bob"][0]: secrets.token_urlsafe(12)}


@pytest.fixture(scope="session")
def cart_env(
    settings: Settings,
    catalog_url: str,
    namespace: str,
    passwords: dict[str, str],
    tmp_path_factory,
) -> dict[str, str]:
    users_file = tmp_path_factory.mktemp("pacifica-cart-auth") / "users.toml"
    for user, password in passwords.items():
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
        "NEARLINE_PACIFICA__ACCOUNT": ACCOUNT[0],
        "NEARLINE_PACIFICA__NAMESPACE": namespace,
    }


@pytest.fixture(scope="session")
def api_with_carts(
    settings: Settings, cart_env: dict[str, str], processors: dict[str, str], tmp_path_factory
) -> Iterator[str]:
    """A running ``python -m api`` with the cart wire mounted, on a port of its own."""
    log = tmp_path_factory.mktemp("pacifica-cart-api") / "api.log"
    with running_api(cart_env, settings.ports.api + 12, log) as url:
        yield url


@pytest.fixture(scope="session")
def pacifica(api_with_carts: str, passwords: dict[str, str]) -> Caller:
    """The namespace's account on the cart wire."""
    token = password_grant(api_with_carts, ACCOUNT[0], passwords[ACCOUNT[0]])
    return Caller(api_with_carts + PREFIX, token["access_token"])


@pytest.fixture(scope="session")
def bob(api_with_carts: str, passwords: dict[str, str], users) -> Caller:
    """Another user, in another group."""
    token = password_grant(api_with_carts, users["bob"][0], passwords[users["bob"][0]])
    return Caller(api_with_carts + PREFIX, token["access_token"])


@dataclass(frozen=True)
class ArchivedFile:
    id: str
    data: bytes

    def entry(self, path: str, hashtype: str = "sha1", hashsum: str | None = None) -> dict:
        """The file as a cartd client names it."""
        digest = hashsum if hashsum is not None else hashlib.new(hashtype, self.data).hexdigest()
        return {"id": self.id, "path": path, "hashtype": hashtype, "hashsum": digest}


class Namespace:
    """Puts files into the namespace by id, through the archive interface (mounted beside
    the cart wire), as the namespace's account."""

    def __init__(self, api: str, token: str, label: str) -> None:
        self.api = api
        self.headers = {"Authorization": f"Bearer {token}"}
        self.label = label

    def put(self, contents: list[bytes], clients: int = 4) -> list[ArchivedFile]:
        files = [ArchivedFile(str(uuid.uuid4().int % 10**15), data) for data in contents]
        with (
            httpx.Client(base_url=self.api + ARCHIVE, headers=self.headers, timeout=120) as ai,
            ThreadPoolExecutor(clients) as pool,
        ):

            def put(f: ArchivedFile) -> None:
                stored = ai.put(f"/{f.id}", content=f.data)  # 201 once cataloged
                assert stored.status_code == 201, stored.text

            list(pool.map(put, files))
        return files

    def holding_id(self) -> int:
        listed = httpx.get(
            f"{self.api}/api/v1/holdings", params={"label": self.label}, headers=self.headers
        )
        assert listed.status_code == 200, listed.text
        [holding] = listed.json()["holdings"]
        return int(holding["id"])


@pytest.fixture(scope="session")
def archive(api_with_carts: str, pacifica: Caller, namespace: str) -> Namespace:
    return Namespace(api_with_carts, pacifica.token, holding_label(namespace))


def wait_for_status(caller: Caller, uid: str, timeout: float = 120) -> httpx.Response:
    """HEAD the cart until cartd would call it done (ready or error)."""
    deadline = time.monotonic() + timeout
    with caller.client() as client:
        while True:
            reply = client.head(f"/{uid}")
            if reply.headers.get("X-Pacifica-Status") in ("ready", "error"):
                return reply
            if time.monotonic() > deadline:
                raise TimeoutError(f"cart {uid} is still {reply.headers}")
            time.sleep(0.2)
