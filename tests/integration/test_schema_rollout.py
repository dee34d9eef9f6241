"""A new version of an event rolls out writers first, through running processors.

A writer with a newer version of PutRequested (one more field) publishes its schema on
``_schemas`` and records a PUT with it. The decider, the workers and the projection have
only version 1 in their ``schemas/`` folder and are not restarted: they find the writer
schema on the topic, read the record as version 1 and carry the PUT out."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict
from io import BytesIO
from pathlib import Path

from fastavro import parse_schema, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

from admin import processes
from events.registry import SCHEMAS_FOLDER, default_registry
from events.requests import PutRequested
from events.topics import REQUESTS, SCHEMAS_TOPIC
from nearline import bus
from nearline.requests import request_envelope
from projections.db import make_engine
from tests.integration.accounts import chown
from tests.integration.catalog_queries import holding_files, wait_for_transaction


def newer_put_schema() -> dict:
    """PutRequested as a version 2 would be: a field added, with a default."""
    source = json.loads((SCHEMAS_FOLDER / "requests" / "PutRequested.v1.avsc").read_text())
    source["fields"].append(
        {"name": "priority", "type": "int", "default": 0, "doc": "Scheduling priority."}
    )
    return source


def test_processors_read_a_newer_version_without_restarting(
    settings, processors, users, catalog_url
):
    alice, climate = users["alice"]
    root = Path(tempfile.mkdtemp(prefix="nearline-rollout-", dir="/tmp"))
    root.chmod(0o755)
    for n in range(3):
        (root / f"f{n}.dat").write_bytes(b"rolled out %d" % n)
    for path in [root, *root.iterdir()]:
        chown(path, alice, climate)
    pids_before = processes.running(settings)
    try:
        source = newer_put_schema()
        canonical = to_parsing_canonical_form(source)
        fingerprint_hex = fingerprint(canonical, "CRC-64-AVRO")
        known = {v.fingerprint_hex for v in default_registry().versions()}
        assert fingerprint_hex not in known  # this code base cannot read it on its own

        request = PutRequested(
            **request_envelope(alice, climate, None, "rollout"),
            label=f"rollout-{uuid.uuid4().hex[:6]}",
            holding_id=None,
            tags={},
            paths=[os.fsencode(root)],
            path_list_file=None,
            api_action="put",
        )
        body = BytesIO()
        body.write(b"\xc3\x01" + bytes.fromhex(fingerprint_hex))
        schemaless_writer(body, parse_schema(source), {**asdict(request), "priority": 7})

        writer = bus.producer(settings)
        writer.produce(SCHEMAS_TOPIC, key=fingerprint_hex.encode(), value=canonical.encode())
        writer.produce(REQUESTS, key=alice.encode(), value=body.getvalue())
        assert writer.flush(15) == 0

        engine = make_engine(catalog_url)
        try:
            outcome = wait_for_transaction(engine, request.transaction_id, timeout=120)
            assert outcome.state == "COMPLETE", outcome
            files = holding_files(engine, outcome.holding_id)
        finally:
            engine.dispose()
        assert set(files) == {os.fsencode(p) for p in [root, *root.iterdir()]}
        time.sleep(0.5)
        assert processes.running(settings) == pids_before  # nothing was restarted
    finally:
        shutil.rmtree(root, ignore_errors=True)
