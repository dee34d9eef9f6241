"""What the API refuses before anything is recorded: a transaction id of another user's
request (409, D111), and requests over the limits (413 with the limit, D112), on both
surfaces. Nothing refused reaches the request log."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from events.catalog import TransactionAccepted
from nearline.settings import Settings
from projections import status
from projections.db import make_engine
from tests.unit.api.conftest import nlds_error
from tests.unit.api.recording import RecordingLog
from tests.unit.api.story import T0, envelope

V1 = "/api/v1"
NLDS = "/api/1.0.0/files/"
ALICES = str(uuid.uuid4())


@pytest.fixture
def guarded(
    tmp_path: Path, catalog_file: Path, settings: Settings, log: RecordingLog
) -> Iterator[TestClient]:
    """An API over a copy of the story's catalog where alice used ``ALICES``, with small
    limits: 3 paths and 2 KiB of body."""
    catalog = tmp_path / "catalog.db"
    shutil.copy(catalog_file, catalog)
    engine = make_engine(f"sqlite:///{catalog}")
    with engine.begin() as conn:
        accepted = TransactionAccepted(
            **envelope(ALICES, "accepted", "alice", "climate", T0 + 9000),
            api_action="put",
            job_label="mine",
            holding_id=3,
            label="run",
        )
        status.apply(conn, [accepted])
    engine.dispose()
    limited = settings.model_copy(
        update={
            "catalog": settings.catalog.model_copy(update={"url": f"sqlite:///{catalog}"}),
            "limits": settings.limits.model_copy(update={"max_paths": 3, "max_body_bytes": 2048}),
        }
    )
    log.limits = limited.limits
    with TestClient(create_app(limited, request_log=lambda: log)) as client:
        yield client


@pytest.mark.security
def test_another_users_transaction_id_is_a_conflict_on_both_surfaces(guarded, alice, bob, log):
    v1 = guarded.post(f"{V1}/puts", json={"paths": ["/d"], "transaction_id": ALICES}, headers=bob)
    assert v1.status_code == 409, v1.text
    assert "belongs to another user's request" in v1.json()["detail"]
    query = {"transaction_id": ALICES, "user": "bob", "group": "climate"}
    nlds = guarded.put(NLDS, params=query, json={"filelist": ["/d"]}, headers=bob)
    assert nlds.status_code == 409
    assert "leave transaction_id out" in nlds_error(nlds)["msg"]
    get = guarded.post(f"{V1}/gets", json={"paths": ["/d"], "transaction_id": ALICES}, headers=bob)
    assert get.status_code == 409
    assert not log.events
    # Its owner may send it again (a retry is the same request).
    mine = guarded.post(
        f"{V1}/puts", json={"paths": ["/d"], "transaction_id": ALICES}, headers=alice
    )
    assert mine.status_code == 202 and len(log.events) == 1


@pytest.mark.security
def test_too_many_paths_are_refused_with_the_limit_on_both_surfaces(guarded, alice, log):
    paths = ["/d/1", "/d/2", "/d/3", "/d/4"]
    v1 = guarded.post(f"{V1}/puts", json={"paths": paths}, headers=alice)
    assert v1.status_code == 413, v1.text
    assert "at most 3 are taken (limits.max_paths)" in v1.json()["detail"]
    query = {"transaction_id": str(uuid.uuid4()), "user": "alice", "group": "climate"}
    for route in ("", "getlist/"):
        nlds = guarded.put(NLDS + route, params=query, json={"filelist": paths}, headers=alice)
        assert nlds.status_code == 413
        assert "names 4 paths" in nlds_error(nlds)["msg"]
    assert not log.events
    assert guarded.post(f"{V1}/puts", json={"paths": paths[:3]}, headers=alice).status_code == 202


@pytest.mark.security
@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_body_over_the_limit_is_refused_before_it_is_read(guarded, alice, log, chunked):
    body = b'{"paths": ["/' + b"x" * 4000 + b'"]}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    headers = alice | {"Content-Type": "application/json"}
    response = guarded.post(f"{V1}/puts", content=chunks() if chunked else body, headers=headers)
    assert response.status_code == 413, response.text
    assert "over the limit of 2048 bytes (limits.max_body_bytes)" in response.json()["detail"]
    query = {"transaction_id": str(uuid.uuid4()), "user": "alice", "group": "climate"}
    nlds = guarded.put(NLDS, params=query, content=body, headers=headers)
    assert nlds.status_code == 413 and "2048 bytes" in nlds_error(nlds)["msg"]
    assert not log.events
