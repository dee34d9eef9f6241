"""A cart of files that live only on tape: the cart stays staging (cartd's 202 to a
download) while nearline recalls them, then checks their hashes and is ready with the
right tar."""

from __future__ import annotations

import os
import uuid

from nearline import bus
from stores.tape.endpoint import TapeEndpoint
from tests.integration.archive.recall_helpers import archive_evict_and_purge
from tests.integration.pacifica_cart.conftest import Caller, Namespace, wait_for_status
from tests.integration.pacifica_cart.test_cart_wire import members


def test_a_cart_of_tape_only_files_is_recalled_then_ready(
    pacifica: Caller, archive: Namespace, settings, engine
):
    contents = [os.urandom(5000), os.urandom(2 * 1024 * 1024)]
    one, two = archive.put(contents)
    tape = TapeEndpoint(settings.tape.url, settings.tape.root)
    archive_evict_and_purge(settings, engine, bus.producer(settings), tape, archive.holding_id())

    uid = str(uuid.uuid4())
    fileids = [one.entry("tape/one.bin", "sha1"), two.entry("tape/two.bin", "sha256")]
    with pacifica.client() as client:
        assert client.post(f"/{uid}", json={"fileids": fileids}).status_code == 201
        waiting = client.head(f"/{uid}")
        assert (waiting.status_code, waiting.headers["X-Pacifica-Status"]) == (204, "staging")
        not_ready = client.get(f"/{uid}")
        assert (not_ready.status_code, not_ready.text) == (
            202,
            "The cart is not ready for download.",
        )

        ready = wait_for_status(pacifica, uid, timeout=600)
        assert ready.headers["X-Pacifica-Status"] == "ready", ready.headers
        tar = client.get(f"/{uid}", params={"filename": "t.tar"})
        assert tar.status_code == 200
        assert members(tar.content) == {
            "t/tape/one.bin": contents[0],
            "t/tape/two.bin": contents[1],
        }
