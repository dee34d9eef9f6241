"""An unreachable or misconfigured store fails fast, retryably, and without secrets."""

from __future__ import annotations

import time

import pytest

from nearline.settings import Settings
from stores.s3.object_store import Failure, ObjectStore
from stores.s3.transfer_client import ClientTuning
from tests.integration.transfer.conftest import PART_SIZE, Transaction, expected_of, write

QUICK = ClientTuning(max_attempts=2, connect_timeout=1.0, read_timeout=2.0)


def unreachable(settings: Settings, port: int) -> Settings:
    moved = settings.model_copy(deep=True)
    moved.s3.endpoint_url = f"http://127.0.0.1:{port}"
    return moved


def assert_safe(failure: Failure, settings: Settings) -> None:
    assert settings.s3.secret_key.get_secret_value() not in failure.reason
    assert settings.s3.access_key.get_secret_value() not in failure.reason
    assert "127.0.0.1" not in failure.reason


@pytest.mark.parametrize("size", [1000, 2 * PART_SIZE], ids=["single-put", "multipart"])
def test_unreachable_store_fails_fast_and_retryable(
    parts_settings: Settings, closed_port, tmp_path, direct, size
):
    path = write(bytes(tmp_path / "f"), b"x" * size)
    with ObjectStore(
        unreachable(parts_settings, closed_port), tuning=QUICK, direct=direct
    ) as store:
        started = time.monotonic()
        result = store.upload(path, "h1/t/f", expected_of(path))
        elapsed = time.monotonic() - started
    assert isinstance(result, Failure) and result.retryable, result
    assert "unreachable" in result.reason
    assert_safe(result, parts_settings)
    assert elapsed < 10


def test_unreachable_store_fails_a_whole_batch_fast(
    settings: Settings, closed_port, tmp_path, direct
):
    paths = [write(bytes(tmp_path / f"f{i}"), b"x") for i in range(500)]
    # The default tuning: each file alone would wait out several seconds of retries.
    with ObjectStore(unreachable(settings, closed_port), direct=direct) as store:
        started = time.monotonic()
        results = store.upload_many(
            [(p, f"h1/t/f{i}", expected_of(p)) for i, p in enumerate(paths)], concurrency=8
        )
    assert len(results) == 500
    assert all(
        isinstance(r, Failure) and r.retryable and "unreachable" in r.reason for r in results
    )
    assert time.monotonic() - started < 30


def test_unreachable_store_on_download(settings: Settings, closed_port, tmp_path):
    with ObjectStore(unreachable(settings, closed_port), tuning=QUICK) as store:
        result = store.download("h1/t/f", bytes(tmp_path / "f"), "0" * 64, 1)
    assert isinstance(result, Failure) and result.retryable
    assert list(tmp_path.iterdir()) == []


def test_wrong_credentials_are_a_store_problem(
    settings: Settings, transaction: Transaction, tmp_path, direct
):
    wrong = settings.model_copy(deep=True)
    wrong.s3.secret_key = type(settings.s3.secret_key)("not-the-secret")
    path = write(bytes(tmp_path / "f"), b"content")
    with ObjectStore(wrong, tuning=QUICK, direct=direct) as store:
        result = store.upload(path, transaction.key(path), expected_of(path))
    assert isinstance(result, Failure) and result.retryable, result
    assert "HTTP 403" in result.reason
    assert "not-the-secret" not in result.reason
    assert_safe(result, settings)
