"""exists and delete: plain object housekeeping, delete idempotent."""

from __future__ import annotations

from stores.s3.object_store import ObjectStore
from tests.integration.transfer.conftest import Transaction


def test_exists_and_idempotent_delete(store: ObjectStore, transaction: Transaction):
    key = transaction.key(b"object")
    assert not store.exists(key)
    store.client.put_object(Bucket=store.bucket, Key=key, Body=b"x")
    assert store.exists(key)
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # nothing there: still fine
    assert not store.exists(key)
