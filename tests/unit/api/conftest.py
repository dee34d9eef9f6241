"""The API over a SQLite catalog filled through the real projection code, with the local
auth provider and a request log that keeps events in memory (no Kafka)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.directory import Directory
from api.auth.families import MemoryFamilies
from api.auth.local import LocalTokens
from api.auth.users import add_user
from nearline.settings import Settings, StackPorts
from projections.db import make_engine
from projections.migrate import upgrade
from tests.unit.api import story
from tests.unit.api.recording import RecordingLog

SECRET = "unit-test-secret-of-sufficient-length-for-hs256"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def families_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Token families kept by the app itself: unit tests have no Kafka (the log's own
    families are tested against the stack)."""
    monkeypatch.setattr("api.auth.families.token_families", lambda _settings: MemoryFamilies())


@pytest.fixture(scope="session")
def catalog_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The story's catalog, built once: tests only read it."""
    path = tmp_path_factory.mktemp("catalog") / "catalog.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    story.fill(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.toml"
    for user, groups in story.GROUPS.items():
        add_user(path, user, PASSWORD, list(groups))
    return path


@pytest.fixture
def settings(tmp_path: Path, catalog_file: Path, users_file: Path) -> Settings:
    return Settings(
        home=tmp_path,
        ports=StackPorts(),  # the defaults, whatever the environment says
        catalog={"url": f"sqlite:///{catalog_file}"},
        auth={"local": {"users_file": users_file, "token_secret": SECRET}},
        # No decider projects the recorded requests here: replies look once, never wait.
        api={"read_your_writes_s": 0},
    )


@pytest.fixture
def log() -> RecordingLog:
    return RecordingLog()


@pytest.fixture
def client(settings: Settings, log: RecordingLog) -> Iterator[TestClient]:
    with TestClient(create_app(settings, request_log=lambda: log)) as test_client:
        yield test_client


@pytest.fixture
def tokens(settings: Settings) -> LocalTokens:
    local = settings.auth.local
    assert local.users_file is not None
    return LocalTokens(local, Directory(local.users_file), SECRET.encode(), MemoryFamilies())


def bearer(tokens: LocalTokens, user: str) -> dict[str, str]:
    """The Authorization header of a fresh access token for one of the story's users."""
    token = tokens.issue(user, story.GROUPS[user])["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def alice(tokens: LocalTokens) -> dict[str, str]:
    return bearer(tokens, "alice")


@pytest.fixture
def bob(tokens: LocalTokens) -> dict[str, str]:
    return bearer(tokens, "bob")


def nlds(response: Any) -> Any:
    """An NLDS reply: 202 and a JSON string holding the JSON (the client's json.loads)."""
    assert response.status_code == 202, response.text
    body = response.json()
    assert isinstance(body, str), "NLDS replies are a JSON string"
    return json.loads(body)


def nlds_error(response: Any) -> dict[str, Any]:
    """An NLDS error: {"detail": "<JSON string of {loc, msg, type}>"}."""
    detail = json.loads(response.json()["detail"])
    assert set(detail) == {"loc", "msg", "type"}
    return detail
