"""PUT end to end through the real stack: request → decider → indexer → transfer-put →
decider → projections. The catalog and the object store must match the tree exactly."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import stat
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.pack_keys import slice_of
from stack import s3
from tests.integration.accounts import chown
from tests.integration.cached_copies import cached_bytes
from tests.integration.catalog_queries import holding_files, wait_for_transaction


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder other accounts can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="nearline-put-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def checksums(path: Path) -> tuple[str, str]:
    sha, adler = hashlib.sha256(), 1
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
            adler = zlib.adler32(chunk, adler)
    return f"{adler:08x}", sha.hexdigest()


def build_tree(root: Path, users) -> dict[str, set[bytes]]:
    """A tree with every kind of awkward entry; returns what must and must not be stored."""
    alice, climate = users["alice"]
    bob, ocean = users["bob"]
    tree = root / "run"
    (tree / "nested" / "deeper").mkdir(parents=True)
    (tree / "empty").mkdir()
    (tree / "nested" / "a.nc").write_bytes(os.urandom(10_000))
    (tree / "nested" / "deeper" / "b.nc").write_bytes(os.urandom(200_000))
    (tree / "with space.txt").write_text("spaces\n")
    (tree / "new\nline.txt").write_text("newline\n")
    weird = os.fsencode(tree) + b"/bad-\xff\xfe-name.bin"
    with open(weird, "wb") as f:
        f.write(b"not utf-8")
    (tree / "zero").touch()
    with open(tree / "sparse.bin", "wb") as f:
        f.truncate(2 * 1024**3 + 7)  # multi-GiB, mostly holes
    (tree / "link-to-a").symlink_to("nested/a.nc")
    (tree / "loop1").symlink_to("loop2")
    (tree / "loop2").symlink_to("loop1")
    (tree / "secret.txt").write_text("alice herself cannot read this\n")
    (tree / "bobs.txt").write_text("bob's, mode 600\n")
    fifo = tree / "pipe"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tree / "sock"))
    sock.close()
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in [*dirnames, *filenames]:
            chown(os.path.join(dirpath, name), alice, climate)
    chown(os.fsencode(root), alice, climate)
    (tree / "secret.txt").chmod(0o000)
    chown(tree / "bobs.txt", bob, ocean)
    (tree / "bobs.txt").chmod(0o600)
    refused = {os.fsencode(tree / n) for n in ("secret.txt", "bobs.txt", "pipe", "sock")}
    stored = set()
    for dirpath, dirnames, filenames in os.walk(os.fsencode(tree)):
        stored.add(dirpath)
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if path not in refused:
                stored.add(path)
    return {"stored": stored, "refused": refused}


def test_put_of_an_awkward_tree_catalogs_and_stores_exactly_what_it_should(
    settings, processors, users, requests, engine, shared_dir
):
    expected = build_tree(shared_dir, users)
    alice, climate = users["alice"]
    label = f"awkward-{uuid.uuid4().hex[:6]}"

    request = requests.put(
        user=alice,
        group=climate,
        paths=[str(shared_dir / "run")],
        label=label,
        tags={"project": "cmip7", "kind": "test"},
    )
    outcome = wait_for_transaction(engine, request.transaction_id, timeout=300)

    assert outcome.state == "COMPLETE_WITH_ERRORS"
    assert outcome.label == label
    assert set(outcome.failures) == expected["refused"]
    assert "permission" in outcome.failures[os.fsencode(shared_dir / "run/secret.txt")]
    assert "FIFO" in outcome.failures[os.fsencode(shared_dir / "run/pipe")]
    assert "socket" in outcome.failures[os.fsencode(shared_dir / "run/sock")]

    files = holding_files(engine, outcome.holding_id)
    assert set(files) == expected["stored"]
    bucket = s3.client(settings)
    for path, row in files.items():
        st = os.lstat(path)
        assert row["size"] == (st.st_size if stat.S_ISREG(st.st_mode) else 0), path
        assert row["mode"] == st.st_mode and row["mtime_ns"] == st.st_mtime_ns
        if stat.S_ISLNK(st.st_mode):
            assert row["path_type"] == "LINK" and row["link_path"] == os.readlink(path)
            assert row["locations"] == {}
        elif stat.S_ISDIR(st.st_mode):
            assert row["path_type"] == "DIRECTORY"
        else:
            adler, sha = checksums(Path(os.fsdecode(path)))
            assert row["checksums"] == {"ADLER32": adler, "SHA256": sha}, path
            root, key = row["locations"]["OBJECT_STORAGE"]
            # Small files are slices of a pack, others objects of their own (D90).
            packed = 0 < st.st_size < settings.s3.pack_below
            assert (slice_of(key) is not None) == packed, key
            if not packed:
                head = bucket.head_object(Bucket=root, Key=key)
                assert head["ContentLength"] == st.st_size
            if st.st_size < 50_000_000:
                body = cached_bytes(bucket, root, key)
                assert len(body) == st.st_size and hashlib.sha256(body).hexdigest() == sha


def test_holding_errors_fail_before_indexing_and_repeats_fail_per_file(
    settings, processors, users, requests, engine, shared_dir
):
    alice, climate = users["alice"]
    bob, ocean = users["bob"]
    tree = shared_dir / "small"
    tree.mkdir()
    (tree / "one.txt").write_text("1\n")
    for path in (tree, tree / "one.txt"):
        chown(os.fsencode(path), alice, climate)
    label = f"errors-{uuid.uuid4().hex[:6]}"
    first = wait_for_transaction(
        engine,
        requests.put(user=alice, group=climate, paths=[str(tree)], label=label).transaction_id,
    )
    assert first.state == "COMPLETE"

    # The same path into the same holding again: each file fails, with the reason.
    again = wait_for_transaction(
        engine,
        requests.put(
            user=alice, group=climate, paths=[str(tree / "one.txt")], label=label
        ).transaction_id,
    )
    assert again.state == "FAILED"
    assert again.failures == {os.fsencode(tree / "one.txt"): "File already exists in holding."}

    # A label that contradicts the holding id, and another user's holding id: refused
    # before any indexing, with a reason that says what to do.
    contradiction = wait_for_transaction(
        engine,
        requests.put(
            user=alice,
            group=climate,
            paths=[str(tree)],
            label="something-else",
            holding_id=first.holding_id,
        ).transaction_id,
    )
    assert contradiction.state == "FAILED" and contradiction.sub_states == {}
    assert "give the id or the label" in contradiction.warnings[0]
    foreign = wait_for_transaction(
        engine,
        requests.put(
            user=bob, group=ocean, paths=[str(tree)], holding_id=first.holding_id
        ).transaction_id,
    )
    assert foreign.state == "FAILED" and "is not yours" in foreign.warnings[0]
