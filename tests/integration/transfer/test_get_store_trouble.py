"""Transfer-get against the real S3 server: an unreachable store is a retryable failure
that the worker retries for as long as it lasts, and a missing object fails its file
with a clear reason, leaving nothing behind."""

from __future__ import annotations

import os

from events.catalog import SelectedFile
from nearline.settings import Settings
from processors.transfer_get.restoring import restore_batch
from stores.failures import NOT_IN_STORE
from stores.posix.requesters import requester_for
from stores.posix.session import UserFiles
from stores.s3.object_store import ObjectStore, Stored
from stores.s3.transfer_client import ClientTuning
from tests.integration.transfer.conftest import expected_of, read, write

QUICK = ClientTuning(max_attempts=2, connect_timeout=1.0, read_timeout=2.0)


def selected(path: bytes, stored: Stored, file_id: int) -> SelectedFile:
    st = os.stat(path)
    return SelectedFile(
        path=path,
        path_type="FILE",
        link_path=None,
        size=stored.size,
        mode=st.st_mode,
        uid=0,
        gid=0,
        mtime_ns=st.st_mtime_ns,
        object_key=stored.key,
        adler32=stored.adler32,
        sha256=stored.sha256,
        file_id=file_id,
        holding_id=7,
    )


def test_unreachable_then_back_and_a_missing_object(
    settings: Settings, store: ObjectStore, transaction, closed_port, public_dir, users
):
    alice = requester_for(users["alice"][0])
    source = write(public_dir + b"/a.nc", b"payload" * 100)
    stored = store.upload(source, transaction.key(source), expected_of(source))
    assert isinstance(stored, Stored)
    missing = Stored(transaction.key(b"/never/stored"), 5, "0" * 8, "0" * 64, "")
    files = [selected(source, stored, 1), selected(source, missing, 2)]
    files[1]["path"] = b"/never/stored"
    target = public_dir + b"/out"
    os.mkdir(target)
    os.chown(target, alice.uid, alice.primary_gid)

    # the store unreachable: every file fails, retryably, as the worker retries it
    away = settings.model_copy(deep=True)
    away.s3.endpoint_url = f"http://127.0.0.1:{closed_port}"
    with ObjectStore(away, tuning=QUICK) as unreachable, UserFiles(alice, 1000) as as_alice:
        outcome = restore_batch(unreachable, as_alice, files, target, overwrite=False)
    assert outcome.unreachable() and outcome.retryable() == {source, b"/never/stored"}
    assert os.listdir(target + os.path.dirname(source)) == []

    # back: the stored file is restored, the missing object fails for good
    with UserFiles(alice, 1000) as as_alice:
        retried = restore_batch(store, as_alice, files, target, overwrite=False)
    assert [r["file_id"] for r in retried.restored] == [1]
    assert [(f["path"], f["reason"], f["retryable"]) for f in retried.failed] == [
        (b"/never/stored", NOT_IN_STORE, False)
    ]
    assert read(target + source) == b"payload" * 100
    assert not os.path.lexists(target + b"/never/stored")
