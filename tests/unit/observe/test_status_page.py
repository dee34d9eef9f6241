"""The status page's HTML: each processor up or down with its lag, the cache against its
watermarks, the tape queue and recent failures, escaped, and its refresh interval."""

from __future__ import annotations

import re

from api.cache_usage import CacheUsage
from api.system import render
from api.system_status import SystemStatus
from nearline.observe.lag import GroupState, PartitionLag


def group(processor: str, members: int, lags: list[int]) -> GroupState:
    name = f"nearline-{processor}"
    partitions = [PartitionLag(name, "t", i, 10, 10 + lag, 0) for i, lag in enumerate(lags)]
    return GroupState(processor, name, members, "STABLE" if members else "EMPTY", [], partitions)


def test_the_page_shows_each_part():
    status = SystemStatus(
        groups=[group("catalog", 1, [0, 0]), group("indexer", 0, [3, 4])],
        cache=CacheUsage(3 * 1024**3, 12, {"cache.high_watermark_bytes": 6 * 1024**3}),
        tape_queue=5,
        dead_letters=[{"source": "nearline.index[0]@3", "kind": "not-avro", "at": 0}],
        failed_count=4,
        failed_transactions=[
            {
                "transaction_id": "t-1",
                "user": "<alice>",
                "api_action": "put",
                "state": "FAILED",
                "last_updated": 1_700_000_000_000,
            }
        ],
        viewer="<alice>",
    )
    page = render(status, 7)
    assert "http-equiv='refresh' content='7'" in page and "every 7 s" in page
    rows = re.findall(
        r"<tr><td>(\w[\w-]*)</td><td>(up|down)</td><td>(\d+)</td><td>(\d+)</td>", page
    )
    assert rows == [("catalog", "up", "1", "0"), ("indexer", "down", "0", "7")]
    assert "3.0 GiB in 12 files; cache.high_watermark_bytes" in page and "(50% used)" in page
    assert "<p id='tape-queue'>5 waiting</p>" in page
    assert "&lt;alice&gt;" in page and "<alice>" not in page
    assert "nearline.index[0]@3" in page and "2023-11-14" in page


def test_unreadable_parts_are_listed_and_the_rest_is_shown():
    page = render(SystemStatus(problems=["Kafka: KafkaException: down"]), 5)
    assert "<ul id='problems'><li>Kafka: KafkaException: down</li></ul>" in page
    assert "<p id='cache'>unknown</p>" in page and "<p id='tape-queue'>unknown</p>" in page


def test_a_watermark_given_as_a_fraction_is_shown_without_a_share():
    usage = CacheUsage(100, 1, {"eviction.high_watermark": 0.9})
    assert usage.share_of("eviction.high_watermark") is None
    page = render(SystemStatus(cache=usage), 5)
    assert "eviction.high_watermark 0.9</p>" in page


def test_an_anonymous_caller_sees_counts_and_no_user_or_transaction():
    failed = {"transaction_id": "t-1", "user": "alice", "api_action": "put", "state": "FAILED"}
    status = SystemStatus(failed_count=4, failed_transactions=[failed | {"last_updated": 0}])
    page = render(status, 5)
    assert '<p id="failed-transactions">4 in the last 24 hours' in page
    assert "alice" not in page and "t-1" not in page
