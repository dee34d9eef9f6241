"""``nearline-admin orphans`` on the real stack: objects of the S3 cache that no
cataloged file names are listed and deleted; the objects of a real PUT (packs and whole
objects), young ones and keys of another shape stay."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from admin.app import app
from admin.commands import orphans  # noqa: F401  (registers the command)
from nearline.settings import get_settings
from stores.s3.object_store import ObjectStore


def keys_under(store: ObjectStore, prefix: str) -> set[str]:
    return {item.key for item in store.listing(prefix)}


def run(*options: str) -> str:
    result = CliRunner().invoke(app, ["orphans", *options])
    assert result.exit_code == 0, result.output
    return result.output


def test_objects_no_file_names_are_listed_then_deleted_and_named_ones_stay(
    settings, store, put, catalog_url, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEARLINE_CATALOG__URL", catalog_url)
    get_settings.cache_clear()
    big = settings.s3.pack_below + 1
    holding_id = put(
        {"a.dat": os.urandom(1000), "b.dat": os.urandom(3000), "c.dat": os.urandom(big)}
    )
    prefix = f"h{holding_id}/"
    named = keys_under(store, prefix)
    assert any("/pack=" in key for key in named) and any("/pack=" not in key for key in named)

    lost = [f"{prefix}lost-upload/d.dat", f"{prefix}lost-upload/pack={'0' * 64}"]
    other = f"{prefix}not-a-nearline-key"
    for key in [*lost, other]:
        store.client.put_object(Bucket=store.bucket, Key=key, Body=b"left behind")
    try:
        listing = run("--older-than-days", "0", "--prefix", prefix)
        assert sorted(line.split("\t")[0] for line in listing.splitlines()[:-1]) == lost
        assert "found (run with --delete to remove them): 2 orphan objects, 22 bytes" in listing
        assert keys_under(store, prefix) == named | {*lost, other}
        # Young objects are not orphans yet: their record may be on its way.
        assert "0 orphan objects" in run("--older-than-days", "1", "--prefix", prefix)

        deleted = run("--older-than-days", "0", "--prefix", prefix, "--delete")
        assert "deleted: 2 orphan objects, 22 bytes" in deleted
        assert keys_under(store, prefix) == named | {other}
    finally:
        for key in [*lost, other]:
            store.client.delete_object(Bucket=store.bucket, Key=key)
        get_settings.cache_clear()
