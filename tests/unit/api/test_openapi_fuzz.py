"""Schemathesis finds no request to /api/v1 that makes the server fail (SQLite catalog;
the integration tests run the same against PostgreSQL)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from tests.unit.api.conftest import bearer
from tests.unit.api.fuzz import no_server_errors


def test_no_generated_request_makes_the_server_fail(settings, log, tokens):
    app = create_app(settings, request_log=lambda: log)
    with TestClient(app):  # the lifespan runs around the whole session
        assert no_server_errors(app, bearer(tokens, "alice"), per_operation=25) >= 10
