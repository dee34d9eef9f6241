"""STAGE and carts of files only on tape, through the ``nearline`` command and the API:
``nearline stage`` brings a holding back into the cache (FIND shows both copies, STAT the
stage), and a cart of tape-only files is staged, then becomes ready with the right tar."""

from __future__ import annotations

import io
import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nearline import bus
from projections.db import make_engine
from stores.tape.endpoint import TapeEndpoint
from tests.integration.api.test_cli import Nearline, owned_tree, wait_for_cart
from tests.integration.archive.recall_helpers import archive_evict_and_purge


@pytest.fixture
def shell(api_url: str, accounts, tmp_path: Path) -> Nearline:
    """alice's shell, logged in."""
    user = Nearline(api_url, tmp_path / "alice-config")
    user.login(accounts["alice"])
    return user


@pytest.fixture
def engine(catalog_url) -> Iterator:
    engine = make_engine(catalog_url)
    yield engine
    engine.dispose()


def put_tape_only(shell: Nearline, owner, folder: Path, contents, settings, engine) -> tuple:
    owned_tree(folder, owner, contents)
    label = f"tape-{uuid.uuid4().hex[:6]}"
    put = shell.json("put", str(folder), "--label", label)
    assert shell("watch", put["transaction_id"], "--interval", "0.2").exit_code == 0
    [holding] = shell.json("list", "--label", label)
    tape = TapeEndpoint(settings.tape.url, settings.tape.root)
    archive_evict_and_purge(settings, engine, bus.producer(settings), tape, holding["id"])
    return label, holding["id"], tape


def storage_types(shell: Nearline, label: str) -> dict[str, frozenset[str]]:
    found = shell.json("find", "--label", label)
    return {
        f["path"]: frozenset(loc["storage_type"] for loc in f["locations"])
        for f in found
        if f["path_type"] == "FILE"
    }


def test_stage_brings_a_holding_back_and_a_cart_of_tape_only_files_becomes_ready(
    shell, accounts, shared_dir, settings, engine
):
    contents = {b"one.dat": os.urandom(5000), b"two.dat": os.urandom(70_000)}
    label, holding_id, tape = put_tape_only(
        shell, accounts["alice"], shared_dir / "tape", contents, settings, engine
    )
    assert set(storage_types(shell, label).values()) == {frozenset({"TAPE"})}

    # stage: recorded, followed to COMPLETE, shown by stat; find then shows both copies
    staged = shell.json("stage", "--regex", ".", "--label", label)
    assert staged["api_action"] == "stage"
    watched = shell("watch", staged["transaction_id"], "--interval", "0.3", "--timeout", "300")
    assert watched.exit_code == 0, watched.output
    shown = shell.json("stat", staged["transaction_id"])
    assert (shown["state"], shown["api_action"]) == ("COMPLETE", "stage")
    assert set(storage_types(shell, label).values()) == {frozenset({"OBJECT_STORAGE", "TAPE"})}

    # a cart of the same files once they are only on tape again: staged, then ready
    archive_evict_and_purge(settings, engine, bus.producer(settings), tape, holding_id)
    cart = shell.json("cart", "create", "--label", label)
    ready = wait_for_cart(shell, cart["cart_id"])
    assert ready["state"] == "ready", ready
    result = shell("cart", "download", cart["cart_id"], "--output", str(shared_dir / "c.tar"))
    assert result.exit_code == 0, result.output
    with tarfile.open(fileobj=io.BytesIO((shared_dir / "c.tar").read_bytes())) as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    base = os.fsdecode(shared_dir).lstrip("/") + "/tape/"
    assert got == {base + k.decode(): v for k, v in contents.items()}
