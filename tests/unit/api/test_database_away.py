"""While the catalog database is away, the API answers 503 with Retry-After, in each
surface's own format, never a 500 with a traceback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from nearline.settings import Settings


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def away(settings: Settings, log) -> Iterator[TestClient]:
    url = f"postgresql+psycopg://nobody:x@127.0.0.1:{closed_port()}/catalog?connect_timeout=2"
    gone = settings.model_copy(update={"catalog": settings.catalog.model_copy(update={"url": url})})
    with TestClient(create_app(gone, request_log=lambda: log), raise_server_exceptions=False) as c:
        yield c


def test_v1_reads_answer_503_with_retry_after(away, alice):
    response = away.get("/api/v1/holdings", headers=alice)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "15"
    assert "Try again" in response.text and "Traceback" not in response.text


def test_nlds_reads_answer_503_with_retry_after(away, alice):
    response = away.get(
        "/api/1.0.0/catalog/list/", params={"user": "alice", "group": "climate"}, headers=alice
    )
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "15"
