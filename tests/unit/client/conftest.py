"""The client library and the CLI against the API in-process (FastAPI's TestClient over
the unit story's catalog, requests kept in memory)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from client.library import Client
from tests.unit.api.conftest import (  # noqa: F401 (fixtures)
    PASSWORD,
    catalog_file,
    client,
    log,
    settings,
    tokens,
    users_file,
)

SERVER = "http://testserver"


@pytest.fixture
def session_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "token.json"


@pytest.fixture
def nearline(client: TestClient, session_path: Path) -> Client:  # noqa: F811
    """alice, logged in."""
    library = Client(SERVER, session_path=session_path, http=client)
    library.login("alice", PASSWORD)
    return library
