"""The Kafka ACL table matches the code: every process has a principal, and every topic a
process's code names is one its principal may read or write. A process given a new
topic without an ACL fails here, not with TOPIC_AUTHORIZATION_FAILED in production."""

from __future__ import annotations

import ast
import importlib
import tomllib
from pathlib import Path

import pytest

from admin import processes
from events.topics import DEAD_LETTER, REQUESTS, RETRY, SCHEMAS_TOPIC
from nearline import kafka_access
from nearline.kafka_access import ACCESS
from stack import stack_file

REPO = Path(__file__).resolve().parents[2]
# The module: ``events.topics`` as an attribute is the function the package exports.
topics = importlib.import_module("events.topics")

SOURCES: dict[str, tuple[str, ...]] = {
    "api": ("api", "nearline/requests.py", "nearline/history.py", "api/system_status.py"),
    "catalog": ("processors/catalog",),
    "indexer": ("processors/indexer",),
    "transfer-put": ("processors/transfer_put",),
    "transfer-get": ("processors/transfer_get",),
    "delete-objects": ("processors/delete_objects",),
    "carts": ("processors/carts",),
    "scicat": ("processors/scicat",),
    "scicat-rabbitmq": ("processors/scicat_rabbitmq",),
    "archive-put": ("processors/archive_put",),
    "archive-get": ("processors/archive_get",),
    "evict": ("processors/evict",),
    "sweeper": ("processors/sweeper",),
    "retry": ("processors/retry",),
    "projections": ("projections",),
}
"""The code each principal runs (beside the kernel every process shares)."""


def test_every_process_logs_in_as_a_principal_with_acls():
    assert {processes.principal(name) for name in processes.PROCESSES} == set(ACCESS)
    assert set(SOURCES) == set(ACCESS)
    assert not set(kafka_access.SUPER_USERS) & set(ACCESS)


def test_every_topic_in_the_table_is_declared():
    declared = {t.name for t in topics.TOPICS}
    for kind, access in ACCESS.items():
        assert set(access.reads) | set(access.writes) <= declared, kind


def _names_used(paths: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """Topic constants imported from events.topics, and every other name imported."""
    found: set[str] = set()
    imported: set[str] = set()
    for top in paths:
        root = REPO / top
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom):
                    names = {alias.name for alias in node.names}
                    if node.module == "events.topics":
                        found |= names
                    imported |= names
    return found, imported


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_a_principal_may_use_every_topic_its_code_names(kind):
    constants, imported = _names_used(SOURCES[kind])
    used = {getattr(topics, c) for c in constants if isinstance(getattr(topics, c), str)}
    access = ACCESS[kind]
    allowed = set(access.reads) | set(access.writes) | {SCHEMAS_TOPIC}
    assert used <= allowed, f"{kind} names {sorted(used - allowed)} without an ACL"
    if "schedule_retry" in imported:
        assert RETRY in access.writes, kind
    if "make_app" in imported or "decoded" in imported:
        assert DEAD_LETTER in access.writes, kind


def test_the_retry_forwarder_writes_back_only_where_retries_come_from():
    sources = {t for a in ACCESS.values() if RETRY in a.writes for t in a.reads}
    assert set(ACCESS["retry"].writes) == sources
    assert REQUESTS not in ACCESS["retry"].writes


def test_requests_are_written_by_the_api_and_the_processes_that_make_requests():
    assert kafka_access.writers_of(REQUESTS) == ["api", "carts", "scicat", "sweeper"]


def test_a_principal_without_a_consumer_group_reads_nothing():
    for kind, access in ACCESS.items():
        if access.reads:
            assert access.groups or access.group_prefixes, kind


def test_acls_with_a_prefix_name_the_prefixed_principals():
    principals = {b.principal for b in kafka_access.bindings("nearline-")}
    assert principals == {f"User:nearline-{kind}" for kind in ACCESS}
    assert len(kafka_access.rows()) == len(kafka_access.bindings())


def test_the_stack_file_is_valid_toml():
    data = {
        "ports": {"kafka": 29092},
        "local": {"postgres_url": 'postgresql://x:"q"@h/d'},
        "kafka": {"sasl_username": "admin", "passwords": {"transfer-put": "a-b_c", "x y": "z"}},
    }
    assert tomllib.loads(stack_file.dumps(data)) == data
