"""A broker dies and comes back: nearline's processors run against a three-node KRaft
cluster (replication 3, min.insync.replicas 2) while two PUTs are under way, and again
while their files are archived; each time one node is SIGKILLed mid-flight and restarted
later. No event may be lost and no transaction may be left unfinished: every file is
cataloged once, stored once in S3 and once on tape.

Slow (three more JVMs): ``make chaos``, or
``pytest -m slow tests/integration/test_broker_failover.py -s``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from admin import processes
from nearline import bus
from nearline.requests import RequestLog
from nearline.settings import Settings, stack_file_path
from processors.sweeper.passes import archive_sweep
from processors.sweeper.wiring import ProjectionReads
from projections import tables as t
from projections.db import make_engine
from projections.migrate import upgrade
from stack import s3
from stack.cluster import Cluster
from tests.integration.cached_copies import check_stored_once
from tests.integration.catalog_queries import holding_files, wait_for_transaction
from tests.integration.test_chaos import on_tape, tape_copies
from tests.integration.test_put_recovery import many_files, sub_batches_done

pytestmark = pytest.mark.slow

DATABASE = "nearline_failover"
CLUSTER_PORT = 29192  # 29192-29197: three client and three controller ports


@pytest.fixture
def home(settings: Settings) -> Iterator[Path]:
    """A home of its own (run folder, pid files) that knows the stack's S3 and XRootD."""
    path = Path(tempfile.mkdtemp(prefix="nearline-failover-", dir="/tmp"))
    path.chmod(0o755)
    shutil.copy(stack_file_path(settings.home), stack_file_path(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def cluster(home: Path) -> Iterator[Cluster]:
    kafka = Cluster(home / "kafka-cluster", CLUSTER_PORT)
    kafka.start()
    yield kafka
    kafka.stop()


@pytest.fixture
def catalog(settings: Settings) -> Iterator[str]:
    admin = create_engine(settings.postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    url = make_url(settings.postgres_url).set(database=DATABASE).render_as_string(False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
    admin.dispose()


def test_a_broker_killed_and_restarted_mid_put_loses_nothing(
    settings, home, cluster, catalog, users
):
    env = {
        "NEARLINE_KAFKA__BOOTSTRAP_SERVERS": cluster.bootstrap_servers,
        "NEARLINE_KAFKA__REPLICATION": "3",
        "NEARLINE_CATALOG__URL": catalog,
        # The test archives when it wants to, not on the sweeper's schedule.
        "NEARLINE_ARCHIVE__SWEEP_INTERVAL_S": "86400",
        "NEARLINE_EVICTION__INTERVAL_S": "86400",
    }
    on_cluster = Settings(
        home=home,
        kafka={"bootstrap_servers": cluster.bootstrap_servers, "replication": 3},
        catalog={"url": catalog},
    )
    bus.prepare(on_cluster)  # as admin: the processes' principals may not create topics
    workers = [name for name in processes.PROCESSES if name != "api"]
    processes.start(on_cluster, workers, env=env, log=lambda _line: None)
    engine = make_engine(catalog)
    data = home / "data"
    data.mkdir()
    data.chmod(0o755)
    alice, climate = users["alice"]
    try:
        trees = {}
        for name in ("before", "during"):
            root = data / name
            root.mkdir()
            trees[name] = (root, many_files(root, 2_000, (alice, climate)))
        requests = RequestLog(on_cluster)
        first = requests.put(
            user=alice, group=climate, paths=[str(trees["before"][0])], label=_label("before")
        )
        deadline = time.monotonic() + 300
        while sub_batches_done(engine, first.transaction_id) < 1:
            assert time.monotonic() < deadline, "the first PUT never got going"
            time.sleep(0.1)

        cluster.kill_node(1)
        killed_at = time.monotonic()
        # A request recorded while the node is down: two replicas still take it.
        second = requests.put(
            user=alice, group=climate, paths=[str(trees["during"][0])], label=_label("during")
        )
        time.sleep(max(0.0, 15 - (time.monotonic() - killed_at)))
        cluster.start_node(1)
        requests.close()

        holdings = {}
        for request, name in ((first, "before"), (second, "during")):
            outcome = wait_for_transaction(engine, request.transaction_id, timeout=600)
            assert outcome.state == "COMPLETE", (name, outcome)
            files = holding_files(engine, outcome.holding_id)
            expected = trees[name][1]
            assert set(files) == expected, name
            with engine.connect() as conn:
                rows = conn.execute(
                    select(func.count())
                    .select_from(t.files)
                    .where(t.files.c.holding_id == outcome.holding_id)
                ).scalar_one()
            assert rows == len(expected), f"{name}: cataloged more than once"
            copies = [
                (f["locations"]["OBJECT_STORAGE"][1], f["size"])
                for f in files.values()
                if f["path_type"] == "FILE"
            ]
            assert len(copies) == 2_000
            objects = check_stored_once(s3.client(settings), settings.s3.bucket, copies)
            stored = [key for key, _ in copies]
            holdings[name] = (outcome.holding_id, stored, files)
            print(
                f"\n{name}: {len(expected)} entries cataloged once, 2,000 files stored once "
                f"in {objects} objects"
            )

        # Archive both holdings; another node dies while the aggregates are written.
        producer = bus.producer(on_cluster)
        ids = [holding_id for holding_id, _, _ in holdings.values()]
        sent = archive_sweep(on_cluster, ProjectionReads(engine), producer, ids)
        assert producer.flush(30) == 0
        time.sleep(2)
        cluster.kill_node(2)
        time.sleep(15)
        cluster.start_node(2)
        deadline = time.monotonic() + 600
        while sum(on_tape(engine, h) for h in ids) < 4_000:
            assert time.monotonic() < deadline, "the archive never completed"
            time.sleep(1)
        for name, (holding_id, _, files) in holdings.items():
            copies = tape_copies(settings, holding_id)
            names = {
                os.fsdecode(p).lstrip("/") for p, f in files.items() if f["path_type"] == "FILE"
            }
            assert {copies[n] for n in names} == {1}, f"{name}: missing or doubled on tape"
        print(f"archive: {len(sent)} aggregates, 4,000 files once on tape despite a broker lost")
    finally:
        processes.stop(on_cluster, workers)
        engine.dispose()


def _label(name: str) -> str:
    return f"failover-{name}-{uuid.uuid4().hex[:6]}"
