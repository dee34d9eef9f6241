"""A file the archive interface took in goes to tape like any other; once only tape holds
it, POST stages it back through nearline's STAGE, and HEAD says ``disk`` when it is in
the cache again (what cartd waits for)."""

from __future__ import annotations

import os

from tests.integration.archive.recall_helpers import archive_evict_and_purge
from tests.integration.pacifica.conftest import Archive, holding_of, new_id, wait_for_media


def test_a_file_only_on_tape_is_staged_by_post_until_head_says_disk(
    archive: Archive, settings, engine, producer, tape
) -> None:
    data = os.urandom(300_000)
    file_id = new_id()
    with archive.client() as client:
        assert client.put(file_id, content=data).status_code == 201
        archive_evict_and_purge(settings, engine, producer, tape, holding_of(engine, file_id))

        head = client.head(file_id)
        assert head.status_code == 204
        assert head.headers["x-pacifica-file-storage-media"] == "tape"
        assert head.headers["x-pacifica-bytes-per-level"] == f"(0, {len(data)})"
        on_tape = client.get(file_id)
        assert on_tape.status_code == 500
        assert "POST" in on_tape.json()["message"]

        staged = client.post(file_id, headers={"Content-Length": "0"})
        assert staged.status_code == 200
        assert staged.json() == {"message": "File was staged", "file": file_id}
        wait_for_media(client, file_id, "disk")
        assert client.get(file_id).content == data
        assert client.get(file_id, params={"byte_range": "7-70007"}).content == data[7:70007]
