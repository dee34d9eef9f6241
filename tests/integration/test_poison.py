"""Bad input never stops the system: undecodable records, and decodable ones with
impossible content, on the processors' topics go to the dead-letter topic with their
reason and position; poison on the projected topics is skipped with a logged reason; every
processor stays up and keeps working; a dead letter re-driven (twice) is acted on once."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import TopicPartition
from sqlalchemy import func, select
from typer.testing import CliRunner

from admin import (
    commands,  # noqa: F401  (registers the admin commands)
    processes,
)
from admin.app import app
from events.base import event_id_for
from events.catalog import HoldingCreated
from events.codec import decode, encode
from events.ops import RecordDeadLettered
from events.reports import FilesTransferred
from events.requests import PutRequested
from events.topics import (
    CATALOG,
    DEAD_LETTER,
    INDEX,
    REPORTS,
    REQUESTS,
    STATUS,
    TRANSFER_PUT,
)
from events.work import IndexRequested, TransferPutRequested
from nearline import bus
from nearline.requests import RequestLog
from projections import tables as t
from projections.db import make_engine
from tests.integration.accounts import chown
from tests.integration.catalog_queries import holding_files, wait_for_transaction


def dead_letter_ends(settings) -> dict[int, int]:
    consumer = bus.consumer(settings, group="test.dlq-ends")
    try:
        partitions = consumer.list_topics(DEAD_LETTER, timeout=10).topics[DEAD_LETTER].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(DEAD_LETTER, p), timeout=10)[1]
            for p in partitions
        }
    finally:
        consumer.close()


def dead_letters_since(settings, ends: dict[int, int], wanted: int, timeout: float = 60):
    consumer = bus.consumer(settings, group=f"test.dlq-{uuid.uuid4().hex[:6]}")
    consumer.assign([TopicPartition(DEAD_LETTER, p, offset) for p, offset in ends.items()])
    letters: list[RecordDeadLettered] = []
    deadline = time.monotonic() + timeout
    try:
        while len(letters) < wanted and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                letters.append(decode(message.value()))
    finally:
        consumer.close()
    return letters


def envelope(step: str) -> dict:
    transaction_id = f"poison-{uuid.uuid4()}"
    return {
        "event_id": event_id_for(transaction_id, step),
        "transaction_id": transaction_id,
        "user": "mallory",
        "group": "mallory",
        "cause_id": None,
        "occurred_at": int(time.time() * 1000),
    }


def impossible_records() -> dict[str, tuple[bytes, str]]:
    """One valid record with impossible content per processor topic, and its kind."""
    return {
        # A catalog fact has no business on the requests topic.
        REQUESTS: (
            encode(HoldingCreated(**envelope("holding"), holding_id=7, label="x", tags={})),
            "unexpected",
        ),
        # Results for a transaction the decider never accepted.
        REPORTS: (
            encode(
                FilesTransferred(
                    **envelope("transferred"), holding_id=1, sub_batch=0, stored=[], failed=[]
                )
            ),
            "unknown-transaction",
        ),
        INDEX: (
            encode(
                IndexRequested(
                    **envelope("index"),
                    holding_id=1,
                    paths=[b"/tmp"],
                    path_list_file=None,
                    max_files=-5,
                    max_bytes=1,
                )
            ),
            "impossible",
        ),
        TRANSFER_PUT: (
            encode(
                TransferPutRequested(
                    **envelope("transfer"),
                    holding_id=1,
                    sub_batch=0,
                    files=[{"path": b"/etc/passwd", "size": -1, "mtime_ns": 0, "object_key": "k"}],
                )
            ),
            "impossible",
        ),
    }


def test_poison_goes_to_the_dead_letter_topic_and_processors_carry_on(
    settings, processors, users, catalog_url
):
    ends = dead_letter_ends(settings)
    producer = bus.producer(settings)
    poison = {
        REQUESTS: os.urandom(40),
        REPORTS: b"\xc3\x01" + b"\x07" * 8 + b"unknown fingerprint",
        INDEX: b"definitely not avro",
        TRANSFER_PUT: b"\xc3\x01",
    }
    impossible = impossible_records()
    for topic, value in poison.items():
        producer.produce(topic, key=b"mallory", value=value)
        producer.produce(topic, key=b"mallory", value=impossible[topic][0])
    # The projected topics: skipped with a logged reason by the projection and the
    # decider's fold, which only read them.
    for topic in (CATALOG, STATUS):
        producer.produce(topic, key=b"mallory", value=os.urandom(30))
    assert producer.flush(10) == 0

    letters = dead_letters_since(settings, ends, 2 * len(poison))
    assert {letter.source_topic for letter in letters} == set(poison)
    assert len(letters) == 2 * len(poison)
    for letter in letters:
        assert letter.value in (poison[letter.source_topic], impossible[letter.source_topic][0])
        assert letter.key == b"mallory"
        assert f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}" in (
            letter.reason
        )
        if letter.value == impossible[letter.source_topic][0]:
            assert letter.kind == impossible[letter.source_topic][1], letter.reason
            assert letter.transaction_id.startswith("poison-")
    running = processes.running(settings)
    assert all(pid for name, pid in running.items() if name != "api"), running

    # The operator sees them with `nearline-admin dlq list`.
    listed = CliRunner().invoke(app, ["dlq", "list", "--topic", INDEX])
    assert listed.exit_code == 0, listed.output
    assert "impossible max_files -5" in listed.output

    # ... and a PUT after the poison still goes through.
    alice, climate = users["alice"]
    folder = Path(tempfile.mkdtemp(prefix="nearline-poison-", dir="/tmp"))
    folder.chmod(0o755)  # reachable by alice, unlike pytest's private tmp_path
    (folder / "ok.txt").write_text("fine\n")
    for path in (folder, folder / "ok.txt"):
        chown(os.fsencode(path), alice, climate)
    requests = RequestLog(settings)
    request = requests.put(user=alice, group=climate, paths=[str(folder)])
    requests.close()
    engine = make_engine(catalog_url)
    try:
        assert wait_for_transaction(engine, request.transaction_id).state == "COMPLETE"
    finally:
        engine.dispose()
        shutil.rmtree(folder)


def test_a_dead_letter_redriven_twice_is_acted_on_once(settings, processors, users, catalog_url):
    # A valid PUT that was dead-lettered (say, before its schema was registered).
    alice, climate = users["alice"]
    folder = Path(tempfile.mkdtemp(prefix="nearline-redrive-", dir="/tmp"))
    folder.chmod(0o755)
    (folder / "one.txt").write_text("one\n")
    for path in (folder, folder / "one.txt"):
        chown(os.fsencode(path), alice, climate)
    transaction_id = str(uuid.uuid4())
    put = PutRequested(
        event_id=event_id_for(transaction_id, "requested"),
        transaction_id=transaction_id,
        user=alice,
        group=climate,
        cause_id=None,
        occurred_at=int(time.time() * 1000),
        label=f"redriven-{transaction_id[:8]}",
        holding_id=None,
        tags={},
        paths=[os.fsencode(folder)],
        path_list_file=None,
        job_label="redrive",
        api_action="put",
    )
    letter = RecordDeadLettered.refused(
        REQUESTS,
        0,
        10**9 + int(time.time()),
        kind="unknown-fingerprint",
        reason="unknown schema fingerprint (registered since)",
        value=encode(put),
        key=alice.encode(),
    )
    producer = bus.producer(settings)
    producer.produce(DEAD_LETTER, key=REQUESTS.encode(), value=encode(letter))
    assert producer.flush(10) == 0

    # Re-driven twice...
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["dlq", "redrive", "--id", letter.event_id])
        assert result.exit_code == 0, result.output
        assert "re-drove 1 record" in result.output

    # ... the PUT completes once: one holding with the label, its one file once.
    engine = make_engine(catalog_url)
    try:
        outcome = wait_for_transaction(engine, transaction_id)
        assert outcome.state == "COMPLETE"
        time.sleep(2)  # time for a second handling to show, were there one
        with engine.connect() as conn:
            holdings = conn.execute(
                select(func.count()).select_from(t.holdings).where(t.holdings.c.label == put.label)
            ).scalar_one()
        assert holdings == 1
        assert set(holding_files(engine, outcome.holding_id)) == {
            os.fsencode(folder),
            os.fsencode(folder / "one.txt"),
        }
    finally:
        engine.dispose()
        shutil.rmtree(folder)
