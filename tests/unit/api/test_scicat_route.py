"""``POST /scicat/jobs``: only SciCat's token, only archive and retrieve jobs, one event
keyed by the job id; and nothing is mounted unless ``scicat.enabled``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from events.scicat import ScicatJobReceived
from nearline.settings import Settings
from tests.unit.api.recording import RecordingLog

TOKEN = "t" * 40
JOB = {"id": "6f1c1f0e-2d7a-4c1e-9f59-0d0b8c2a1e11", "type": "archive"}


@pytest.fixture
def scicat_settings(settings: Settings) -> Settings:
    scicat = settings.scicat.model_copy(
        update={"enabled": True, "job_token": SecretStr(TOKEN), "account": "arch", "group": "g"}
    )
    return settings.model_copy(update={"scicat": scicat})


@pytest.fixture
def scicat_client(scicat_settings: Settings, log: RecordingLog) -> Iterator[TestClient]:
    with TestClient(create_app(scicat_settings, request_log=lambda: log)) as test_client:
        yield test_client


def sent(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_job_is_recorded_once_keyed_by_its_id(scicat_client, log):
    response = scicat_client.post("/scicat/jobs", json=JOB, headers=sent())
    assert response.status_code == 201, response.text
    assert scicat_client.post("/scicat/jobs", json=JOB, headers=sent()).status_code == 201
    first, again = log.events
    assert isinstance(first, ScicatJobReceived)
    assert (first.job_id, first.job_type, first.via, first.user, first.group) == (
        JOB["id"],
        "archive",
        "url",
        "arch",
        "g",
    )
    assert first.event_id == again.event_id  # the same job handed over twice is one job
    assert log.keys == [JOB["id"], JOB["id"]]


@pytest.mark.parametrize(
    "headers", [{}, sent("wrong"), sent(TOKEN + "x"), {"Authorization": TOKEN}]
)
def test_only_scicats_token_is_taken(scicat_client, log, headers):
    assert scicat_client.post("/scicat/jobs", json=JOB, headers=headers).status_code == 401
    assert log.events == []


def test_without_a_configured_token_every_call_is_refused(scicat_settings, log):
    empty = scicat_settings.scicat.model_copy(update={"job_token": SecretStr("")})
    settings = scicat_settings.model_copy(update={"scicat": empty})
    with TestClient(create_app(settings, request_log=lambda: log)) as client:
        assert client.post("/scicat/jobs", json=JOB, headers=sent("")).status_code in (401, 403)
        assert client.post("/scicat/jobs", json=JOB, headers=sent(TOKEN)).status_code == 401
    assert log.events == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"id": JOB["id"], "type": "public"}, 400),
        ({"id": "", "type": "archive"}, 400),
        ({"id": "x" * 257, "type": "archive"}, 400),
        ({"type": "archive"}, 422),
        ({"id": JOB["id"]}, 422),
    ],
)
def test_bad_jobs_are_refused_and_nothing_is_recorded(scicat_client, log, body, status):
    assert scicat_client.post("/scicat/jobs", json=body, headers=sent()).status_code == status
    assert log.events == []


def test_nothing_is_mounted_unless_enabled(client, log):
    assert client.post("/scicat/jobs", json=JOB, headers=sent()).status_code == 404
    assert log.events == []
