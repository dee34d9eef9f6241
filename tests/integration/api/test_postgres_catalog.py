"""The API's queries on PostgreSQL: the path-text function agrees with Python byte for
byte, the database's own verdicts on a regex or a slow query become clear 400s, and
schemathesis finds no request that makes the server fail."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, literal, select, text

from api.app import create_app
from api.auth.directory import Directory
from api.auth.families import MemoryFamilies
from api.auth.local import LocalTokens
from api.paths import path_text
from domain.access import Scope
from domain.queries import InvalidQuery, QueryTooSlow
from nearline.settings import Settings
from projections.db import make_engine
from projections.migrate import upgrade
from projections.queries import database_errors
from projections.queries.files import find_files
from projections.queries.filters import HoldingSelector
from tests.unit.api.fuzz import no_server_errors
from tests.unit.api.recording import RecordingLog


@pytest.fixture(scope="module")
def engine(catalog_url: str) -> Iterator[Engine]:
    engine = make_engine(catalog_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_the_path_text_function_is_pythons(engine):
    rng = random.Random(11)
    samples = [
        b"/plain.nc",
        b"/back\\slash",
        b"/bad-\xff\xfe",
        "/données/漢字".encode(),
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xc0\xaf",
        b"abc\xf0\x9f\x98",
    ] + [
        bytes(rng.choice(b"/A\\\x80\xbf\xc2\xe0\xed\xef\xf0\xf4\xf5\xa0\x90\x8f") for _ in range(7))
        for _ in range(500)
    ]
    with engine.connect() as conn:
        for path in samples:
            got = conn.execute(select(func.nearline_path_text(literal(path)))).scalar()
            assert got == path_text(path), path


def test_the_path_text_index_exists(engine):
    with engine.connect() as conn:
        names = conn.execute(
            text("SELECT indexname FROM pg_indexes WHERE tablename = 'files'")
        ).scalars()
        assert "ix_files_path_text_trgm" in set(names)


def test_a_regex_python_accepts_but_postgresql_refuses_is_a_bad_request(engine):
    with engine.connect() as conn, pytest.raises(InvalidQuery, match="syntax PostgreSQL shares"):
        find_files(conn, Scope("nobody"), HoldingSelector(), regex="(?P<name>x)")


def test_a_query_past_the_time_limit_is_too_broad_not_a_crash(catalog_url):
    slow = make_engine(catalog_url, connect_args={"options": "-c statement_timeout=50"})
    with slow.connect() as conn, pytest.raises(QueryTooSlow), database_errors():
        conn.execute(text("SELECT pg_sleep(1)"))
    slow.dispose()


def test_no_generated_request_makes_the_server_fail_on_postgresql(
    settings: Settings, catalog_url, tmp_path
):
    secret = "integration-fuzz-secret-long-enough-for-hs256"
    fuzz_settings = Settings(
        home=settings.home,
        catalog={"url": catalog_url},
        auth={"local": {"token_secret": secret, "users_file": tmp_path / "users.toml"}},
    )
    tokens = LocalTokens(
        fuzz_settings.auth.local, Directory(tmp_path / "u"), secret.encode(), MemoryFamilies()
    )
    token = tokens.issue("fuzz-user", ("fuzz-group",))["access_token"]
    app = create_app(fuzz_settings, request_log=RecordingLog)
    with TestClient(app):
        no_server_errors(app, {"Authorization": f"Bearer {token}"}, per_operation=25)
