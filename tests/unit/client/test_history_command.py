"""``nearline history`` (D132): your events about a holding, a transaction or a path,
over HTTP (``GET /history``), as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from client.cli import app, common
from client.cli import commands as _commands  # noqa: F401 (registers the commands)
from client.library import Client

TID = "5f0c9e2a-0000-4000-8000-000000000132"


def progress(files_done: int, files_total: int, bytes_done: int, bytes_total: int) -> dict:
    return {
        "state": "TRANSFER_PUTTING",
        "files_done": files_done,
        "files_total": files_total,
        "bytes_done": bytes_done,
        "bytes_total": bytes_total,
    }


class Fake:
    """A client that answers with the given events and keeps what it was asked."""

    def __init__(self, events: list[dict]) -> None:
        self.events = events
        self.asked: dict[str, Any] = {}

    def __enter__(self) -> Fake:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def history(self, **filters: Any) -> list[dict]:
        self.asked = filters
        return self.events


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    def invoke(fake: Any, *args: str) -> Result:
        monkeypatch.setattr(common, "make_client", lambda _server: fake)
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})

    return invoke


EVENTS = [
    {
        "time": "2026-12-06T09:00:00.000Z",
        "occurred_at": 1,
        "event_type": "PutRequested",
        "topic": "nearline.requests",
        "actor": "alice",
        "transaction_id": TID,
        "event_id": "e1",
        "cause_id": None,
        "holding_id": None,
        "state": None,
    },
    {
        "time": "2026-12-06T09:00:02.500Z",
        "occurred_at": 2,
        "event_type": "TransactionStateChanged",
        "topic": "nearline.status",
        "actor": "alice",
        "transaction_id": TID,
        "event_id": "e2",
        "cause_id": "e1",
        "holding_id": 7,
        "state": "TRANSFER_PUTTING",
        "progress": progress(3, 4, 3_000_000, 4_000_000),
    },
]


def test_history_as_a_table_and_as_json(run):
    fake = Fake(EVENTS)
    table = run(fake, "history", "--transaction", TID)
    assert table.exit_code == 0, table.output
    assert "PutRequested" in table.stdout and "2026-12-06 09:00:02.500" in table.stdout
    assert "3/4 files  3.0/4.0 MB" in table.stdout
    assert fake.asked == {"holding_id": None, "transaction_id": TID, "path": None}
    shown = run(fake, "history", "--holding-id", "7", "--path", "/data/a.nc", "--json")
    assert json.loads(shown.stdout) == EVENTS
    assert fake.asked == {"holding_id": 7, "transaction_id": None, "path": b"/data/a.nc"}
    assert run(fake, "history").exit_code == 2  # nothing named: a usage error


def test_the_library_asks_for_history_with_the_exact_bytes_of_a_path(tmp_path: Path):
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, json={"events": EVENTS})

    library = Client("http://nearline", session_path=tmp_path / "t.json")
    library.http = httpx.Client(transport=httpx.MockTransport(answer))
    library._headers = lambda: {}  # type: ignore[method-assign]
    assert library.history(transaction_id=TID) == EVENTS
    library.history(path=b"/data/bad-\xff.nc", holding_id=7)
    assert asked[0].url.params.multi_items() == [("transaction_id", TID)]
    assert asked[1].url.path == "/api/v1/history"
    assert sorted(asked[1].url.params.multi_items()) == [
        ("holding_id", "7"),
        ("path_b64", "L2RhdGEvYmFkLf8ubmM="),
    ]
