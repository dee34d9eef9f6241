"""A multipart upload whose writer died (SIGKILLed mid-recall, say) is aborted by the
sweeper's pass once it is older than the limit; a fresh one is left alone."""

from __future__ import annotations

from stores.s3.object_store import ObjectStore


def _open_upload(store: ObjectStore, key: str) -> str:
    upload = store.client.create_multipart_upload(Bucket=store.bucket, Key=key)
    store.client.upload_part(
        Bucket=store.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024
    )
    return upload["UploadId"]


def _open_keys(store: ObjectStore, prefix: str) -> set[str]:
    found = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=prefix)
    return {u["Key"] for u in found.get("Uploads", [])}


def test_abandoned_uploads_are_aborted_and_fresh_ones_kept(store, transaction):
    key = transaction.key(b"/abandoned/recall.bin")
    _open_upload(store, key)
    assert _open_keys(store, transaction.prefix) == {key}

    assert key not in store.abort_stale_uploads(3600, transaction.prefix)  # still fresh
    assert _open_keys(store, transaction.prefix) == {key}

    assert key in store.abort_stale_uploads(0, transaction.prefix)
    assert _open_keys(store, transaction.prefix) == set()
