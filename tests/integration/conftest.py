"""Integration tests talk to the real local stack (`make stack-up`): Kafka, S3,
PostgreSQL and XRootD. They fail, never skip, when it is not running."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

import stack
from nearline.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from nearline.requests import RequestLog

TEST_QUOTAS = {"users": {"nl-carol": {"cache_bytes": 10_000}}, "groups": {}}
"""Quotas of the processes under test: only carol's cache is limited."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings() -> Settings:
    current = Settings()
    down = [s.name for s in stack.status(current) if not s.healthy]
    if down:
        pytest.fail(f"the local stack is not healthy ({', '.join(down)}): run `make stack-up`")
    return current


@pytest.fixture
def topic_name(settings: Settings) -> Iterator[str]:
    """A fresh single-partition topic for one test, deleted afterwards."""
    from confluent_kafka.admin import NewTopic

    from nearline.bus import admin

    name = f"test.{uuid.uuid4().hex[:12]}"
    client = admin(settings)
    client.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result()
    yield name
    client.delete_topics([name])[name].result()


@pytest.fixture(scope="session")
def catalog_url(settings: Settings) -> str:
    """The processors under test keep their catalog in the stack's PostgreSQL."""
    assert settings.postgres_url, "the stack file names no PostgreSQL URL"
    return settings.postgres_url


@pytest.fixture(scope="session")
def processors(settings: Settings, catalog_url: str) -> Iterator[dict[str, str]]:
    """nearline's processes (decider, workers, projections) running against the stack,
    started fresh for the session and stopped after it."""
    from admin import processes
    from projections.db import make_engine
    from projections.migrate import upgrade

    # Tests run the archive sweep and the eviction policy themselves, when they need them.
    env = {
        "NEARLINE_CATALOG__URL": catalog_url,
        "NEARLINE_QUOTAS": json.dumps(TEST_QUOTAS),
        "NEARLINE_ARCHIVE__SWEEP_INTERVAL_S": "86400",
        "NEARLINE_EVICTION__INTERVAL_S": "86400",
    }
    processes.stop(settings)
    engine = make_engine(catalog_url)
    upgrade(engine)  # before the projections start, so tests can query at once
    engine.dispose()
    # The API is started by the API tests themselves, with their own users file.
    workers = [name for name in processes.PROCESSES if name != "api"]
    processes.start(settings, workers, env=env, log=lambda _line: None)
    yield env
    processes.stop(settings)


@pytest.fixture(scope="session")
def users() -> dict[str, tuple[str, str]]:
    """Real accounts on this host: alice and bob in different groups, the file owners of
    tests, and carol in alice's group (with the small quotas of ``TEST_QUOTAS``)."""
    from tests.integration.accounts import ensure_account

    return {
        "alice": ensure_account("nl-alice", "nl-climate"),
        "bob": ensure_account("nl-bob", "nl-ocean"),
        "carol": ensure_account("nl-carol", "nl-climate"),
    }


@pytest.fixture
def public_dir() -> Iterator[bytes]:
    """A root-owned 0755 directory every user can reach (pytest's tmp_path is 0700): the
    trees of tests whose files are walked, read or written by a user's own worker."""
    import os
    import shutil
    import stat
    import tempfile

    base = tempfile.gettempdir()
    if not os.stat(base).st_mode & stat.S_IXOTH:
        pytest.fail(f"{base} is not searchable by other users")
    directory = tempfile.mkdtemp(prefix="nearline-public-").encode()
    os.chmod(directory, 0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


@pytest.fixture
def requests(settings: Settings) -> Iterator[RequestLog]:
    """Records requests on Kafka as the API would."""
    from nearline.requests import RequestLog

    log = RequestLog(settings)
    yield log
    log.close()


@pytest.fixture
def engine(catalog_url: str) -> Iterator[Engine]:
    """The processors' catalog (the stack's PostgreSQL)."""
    from projections.db import make_engine

    engine = make_engine(catalog_url)
    yield engine
    engine.dispose()
