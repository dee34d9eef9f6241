"""A reply that says a change was made comes once the read model shows it: META (and
DELETE) once the outcome is projected, PUT and GET once ``stat`` has the transaction;
bounded by ``api.read_your_writes_s``."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api.app import create_app
from api.shown import outcome_shown, transaction_shown
from events.base import Event
from events.catalog import TransactionAccepted, TransactionFinished, TransactionRejected
from nearline.settings import Settings
from projections import status
from projections import tables as t
from projections.db import make_engine
from tests.unit.api.conftest import nlds
from tests.unit.api.recording import RecordingLog
from tests.unit.api.story import envelope

DECIDED_AFTER_S = 0.3
Decide = Callable[[Event], list[Event]]


class DecidingLog(RecordingLog):
    """Records requests, and a moment later projects what ``decide`` makes of each, as
    the decider and the projection would."""

    def __init__(self, engine: Engine, decide: Decide) -> None:
        super().__init__()
        self.engine, self.decide = engine, decide

    def _send(self, event: Event, topic: str, value: bytes) -> None:
        super()._send(event, topic, value)

        def project() -> None:
            time.sleep(DECIDED_AFTER_S)
            with self.engine.begin() as conn:
                status.apply(conn, self.decide(event))

        threading.Thread(target=project, daemon=True).start()


def facts(event: Event, outcome: str, reason: str = "") -> list[Event]:
    """The decider's answer: refused with ``reason``, or accepted and finished."""
    env = envelope(event.transaction_id, "x", event.user, event.group, event.occurred_at)
    if outcome == "rejected":
        return [TransactionRejected(**env, api_action="meta", job_label="j", reason=reason)]
    return [
        TransactionAccepted(**env, api_action="meta", job_label="j", holding_id=None, label=None),
        TransactionFinished(
            **env, api_action="meta", state=outcome, files_ok=0, files_failed=0, bytes_ok=0
        ),
    ]


@pytest.fixture
def own_catalog(settings: Settings, catalog_file, tmp_path) -> Iterator[tuple[Settings, Engine]]:
    """A copy of the story's catalog that this test may write, and a bound of 5 s."""
    copy = tmp_path / "catalog.db"
    shutil.copy(catalog_file, copy)
    url = f"sqlite:///{copy}"
    engine = make_engine(url)
    yield (
        settings.model_copy(
            update={
                "catalog": settings.catalog.model_copy(update={"url": url}),
                "api": settings.api.model_copy(update={"read_your_writes_s": 5}),
            }
        ),
        engine,
    )
    engine.dispose()


def meta(settings: Settings, log: RecordingLog, alice: dict[str, str]) -> tuple[dict, float]:
    began = time.monotonic()
    with TestClient(create_app(settings, request_log=lambda: log)) as client:
        response = client.post(
            "/api/1.0.0/catalog/meta/",
            params={"user": "alice", "group": "climate", "label": "run"},
            json={"new_tag": {"year": "2023"}},
            headers=alice,
        )
    return nlds(response), time.monotonic() - began


def test_meta_answers_once_the_change_is_projected(own_catalog, alice):
    settings, engine = own_catalog
    log = DecidingLog(engine, lambda e: facts(e, "COMPLETE"))
    reply, took = meta(settings, log, alice)
    assert "failure" not in reply["details"]
    assert DECIDED_AFTER_S <= took < 5


def test_meta_refused_by_the_decider_says_why(own_catalog, alice):
    settings, engine = own_catalog
    reason = "The label 'x' is taken by your holding 4: choose another label."
    log = DecidingLog(engine, lambda e: facts(e, "rejected", reason))
    reply, _took = meta(settings, log, alice)
    assert reply["details"]["failure"] == reason


def test_past_the_bound_meta_says_the_change_is_not_made_yet(own_catalog, alice):
    settings, _engine = own_catalog
    settings.api.read_your_writes_s = 0.2
    reply, took = meta(settings, RecordingLog(), alice)
    assert "not made yet" in reply["details"]["failure"] and took < 2


def test_the_wait_sees_rows_committed_after_it_began(own_catalog):
    """The decider and the projection write on their own connections meanwhile."""
    _settings, engine = own_catalog
    request = _request("t-ryw")
    log = DecidingLog(engine, lambda e: facts(e, "COMPLETE"))
    with engine.connect() as conn:
        # A read transaction is open before the row exists.
        conn.execute(select(t.status_transactions.c.id).limit(1))
        log._send(request, "nearline.requests", b"")
        shown = transaction_shown(conn, request, 5)
        assert shown is not None and shown.final
        assert outcome_shown(conn, _request("t-never"), 0.1) is None


def _request(tid: str) -> Event:
    env = envelope(tid, "r", "alice", "climate", 1)
    return TransactionAccepted(**env, api_action="put", job_label="j", holding_id=None, label=None)
