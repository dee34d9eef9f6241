"""Fixtures of the aggregate tests: a fake cache and a fake tape."""

from __future__ import annotations

import pytest

from tests.unit.archive.fakes import FakeStore, FakeTape


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def tape() -> FakeTape:
    return FakeTape(chunk_size=1000)  # ranges come back in several chunks
