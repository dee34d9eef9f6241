"""Lag is read from Kafka and is exact while a backlog exists, and goes back to zero once
the processor catches up; metrics move as work is done."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from events.topics import INDEX
from nearline import bus
from nearline.observe.lag import group_states
from nearline.requests import RequestLog
from projections.db import make_engine
from tests.integration.accounts import chown
from tests.integration.catalog_queries import wait_for_transaction
from tests.integration.ops.conftest import REPO, wait_until


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{name}(?:{{(.*)}})? (\S+)$", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


def indexer_lag(settings) -> dict[int, int]:
    (state,) = group_states(settings, ["nearline-indexer"])
    return {p.partition: p.lag for p in state.partitions if p.topic == INDEX}


def test_lag_counts_a_backlog_exactly_and_returns_to_zero(settings, workers, api):
    wait_until(lambda: not any(indexer_lag(settings).values()), 60, "no indexer backlog")
    workers.stop("indexer")
    wait_until(
        lambda: group_states(settings, ["nearline-indexer"])[0].members == 0, 30, "indexer gone"
    )

    # Records the indexer cannot decode: it dead-letters them and does nothing else.
    out = bus.producer(settings)
    produced: dict[int, int] = {}

    def delivered(error, message) -> None:
        assert error is None
        produced[message.partition()] = produced.get(message.partition(), 0) + 1

    for i in range(12):
        out.produce(
            INDEX, key=f"lag-{uuid.uuid4()}".encode(), value=b"junk %d" % i, on_delivery=delivered
        )
    assert out.flush(30) == 0
    assert sum(produced.values()) == 12 and len(produced) > 1

    lag = indexer_lag(settings)
    assert {p: n for p, n in lag.items() if n} == produced
    (state,) = group_states(settings, ["nearline-indexer"])
    assert not state.up and state.lag == 12

    # The same figures from the command, the API (authenticated) and the API's /metrics.
    command = subprocess.run(
        [sys.executable, "-m", "admin", "lag", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    )
    shown = {g["processor"]: g for g in json.loads(command.stdout)["processors"]}
    assert shown["indexer"]["lag"] == 12 and shown["indexer"]["up"] is False
    table = subprocess.run(
        [sys.executable, "-m", "admin", "lag"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    ).stdout
    assert re.search(
        r"^indexer\s+nearline-indexer\s+down\s+0\s+nearline.index\s+\d+\s+12$", table, re.M
    )

    assert httpx.get(f"{api.url}/api/v1/system/lag", timeout=30).status_code in (401, 403)
    reply = httpx.get(
        f"{api.url}/api/v1/system/lag",
        headers={"Authorization": f"Bearer {api.token()}"},
        timeout=30,
    )
    assert reply.status_code == 200
    by_name = {g["processor"]: g for g in reply.json()["processors"]}
    assert by_name["indexer"]["lag"] == 12 and by_name["catalog"]["up"] is True
    scraped = httpx.get(f"{api.url}/metrics", timeout=30).text
    assert metric(scraped, "nearline_consumer_lag", group="nearline-indexer") == 12
    assert metric(scraped, "nearline_consumer_members", group="nearline-indexer") == 0

    workers.start("indexer")
    wait_until(lambda: not any(indexer_lag(settings).values()), 60, "the backlog consumed")
    assert group_states(settings, ["nearline-indexer"])[0].up
    own = workers.metrics("indexer")
    # A fresh process: exactly the 12 records, all dead-lettered.
    assert (
        metric(own, "nearline_events_failed_total", processor="indexer", type="undecodable") == 12
    )
    wait_until(
        lambda: metric(workers.metrics("indexer"), "nearline_consumer_lag") == 0, 30, "lag gauge 0"
    )


def test_metrics_move_as_a_put_is_done(settings, workers, users, catalog_url):
    alice, climate = users["alice"]
    root = Path("/tmp") / f"nearline-ops-{uuid.uuid4().hex[:8]}"
    root.mkdir(mode=0o755)
    sizes = [1000 * (i + 1) for i in range(5)]
    for i, size in enumerate(sizes):
        (root / f"f{i}.bin").write_bytes(os.urandom(size))
    for path in [root, *root.iterdir()]:
        chown(os.fsencode(path), alice, climate)

    def totals() -> dict[str, float]:
        scraped = {n: workers.metrics(n) for n in ("catalog", "transfer-put", "transfer-put-2")}
        return {
            "put_requests": metric(
                scraped["catalog"], "nearline_events_processed_total", type="PutRequested"
            ),
            "transfers": sum(
                metric(scraped[n], "nearline_events_processed_total", type="TransferPutRequested")
                for n in ("transfer-put", "transfer-put-2")
            ),
            "bytes": sum(
                metric(
                    scraped[n], "nearline_bytes_moved_total", tier="object_storage", direction="put"
                )
                for n in ("transfer-put", "transfer-put-2")
            ),
            "waits": metric(scraped["catalog"], "nearline_stage_wait_seconds_count"),
        }

    before = totals()
    log = RequestLog(settings)
    engine = make_engine(catalog_url)
    try:
        request = log.put(
            user=alice, group=climate, paths=[str(root)], label=f"ops-{uuid.uuid4().hex[:6]}"
        )
        assert wait_for_transaction(engine, request.transaction_id).state == "COMPLETE"
    finally:
        log.close()
        engine.dispose()
    after = totals()
    assert after["put_requests"] == before["put_requests"] + 1
    assert after["transfers"] >= before["transfers"] + 1
    assert after["bytes"] == before["bytes"] + sum(sizes)
    assert after["waits"] > before["waits"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_every_worker_answers_health_and_readiness(workers, path):
    for name, port in workers.ports.items():
        reply = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)
        assert reply.status_code == 200, (name, reply.text)
