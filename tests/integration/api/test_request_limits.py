"""Oversized requests through the real API (D112): too many paths, or a body over the
limit, declared or sent in chunks, are answered 413 with the limit, on both surfaces, and
nothing reaches ``nearline.requests``. The API under test has the default limits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from nearline.settings import LimitSettings
from tests.integration.api.client import OBJECT_STORE, password_grant
from tests.integration.api.test_requests_recorded import RequestsTopic

pytestmark = pytest.mark.security

LIMITS = LimitSettings()


@pytest.fixture
def requests_topic(settings) -> Iterator[RequestsTopic]:
    topic = RequestsTopic(settings)
    yield topic
    topic.close()


def test_oversized_puts_are_refused_with_the_limit_and_never_recorded(
    api_url, accounts, requests_topic
):
    alice = accounts["alice"]
    token = password_grant(api_url, alice.user, alice.password)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    v1 = f"{api_url}/api/v1/puts"
    nlds = f"{api_url}/api/1.0.0/files/"
    tids = [str(uuid.uuid4()) for _ in range(5)]

    # One path too many (a small body).
    paths = [f"/d/{n}" for n in range(LIMITS.max_paths + 1)]
    many = httpx.post(v1, json={"paths": paths, "transaction_id": tids[0]}, headers=headers)
    assert many.status_code == 413, many.text
    assert f"at most {LIMITS.max_paths} are taken" in many.json()["detail"]
    query = {"transaction_id": tids[1], "user": alice.user, "group": alice.group} | OBJECT_STORE
    many_nlds = httpx.put(nlds, params=query, json={"filelist": paths}, headers=headers)
    assert many_nlds.status_code == 413 and str(LIMITS.max_paths) in many_nlds.text

    # A body over the limit: declared, or sent in chunks with no length.
    big = b'{"paths": ["/' + b"x" * LIMITS.max_body_bytes + b'"], "transaction_id": "%s"}'
    declared = httpx.post(
        v1, content=big % tids[2].encode(), headers=headers | {"Content-Type": "application/json"}
    )
    assert declared.status_code == 413
    assert f"limit of {LIMITS.max_body_bytes} bytes" in declared.json()["detail"]

    def chunks(body: bytes) -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    chunked = httpx.post(
        v1,
        content=chunks(big % tids[3].encode()),
        headers=headers | {"Content-Type": "application/json"},
        timeout=30,
    )
    assert chunked.status_code == 413
    query = {"transaction_id": tids[4], "user": alice.user, "group": alice.group} | OBJECT_STORE
    big_nlds = httpx.put(
        nlds,
        params=query,
        content=b'{"filelist": ["/' + b"x" * LIMITS.max_body_bytes + b'"]}',
        headers=headers | {"Content-Type": "application/json"},
    )
    assert big_nlds.status_code == 413 and str(LIMITS.max_body_bytes) in big_nlds.text

    # Nothing of any of them is on Kafka; a request within the limits is.
    fine = str(uuid.uuid4())
    ok = httpx.post(v1, json={"paths": paths[:10], "transaction_id": fine}, headers=headers)
    assert ok.status_code == 202
    assert set(requests_topic.events({*tids, fine}, timeout=20)) == {fine}
