"""FIND by regex over a million files: a scratch catalog database in the stack's
PostgreSQL, filled with 1,000,000 files (with checksums and locations) in 200 holdings,
searched through the API's own queries and through the HTTP route, limit 1,000.

Run: ``pytest -m slow tests/integration/api/test_find_latency.py -s`` (prints figures).
The database is kept between runs and refilled only when it is not complete."""

from __future__ import annotations

import json
import statistics
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from api.access import Scope
from api.app import create_app
from api.auth.directory import Directory
from api.auth.local import LocalTokens
from api.db import catalog_reader
from api.queries.files import find_files
from api.queries.filters import HoldingSelector
from nearline.settings import Settings
from projections.db import make_engine
from projections.migrate import upgrade
from tests.unit.api.recording import RecordingLog

pytestmark = pytest.mark.slow

DATABASE = "nearline_api_bench"
HOLDINGS, PER_HOLDING = 200, 5000
FILES = HOLDINGS * PER_HOLDING
VARIABLES = ["tas", "pr", "psl", "uas", "vas", "hus", "ta", "ua", "va", "zg"]
LIMIT, BUDGET_S, RUNS = 1000, 0.5, 7

PATTERNS = {
    "every file (stops at the limit)": r"\.nc$",
    "one project folder, 50k files": r"^/gws/nopw/j04/proj07/",
    "one variable and year, 4,000 files": r"/tas_2000_",
    "one run and variable, 500 files": r"run042/pr/",
    "a character class, 2,000 files": r"_0012[0-9]\.nc$",
    "nothing": r"no-such-file",
    "not UTF-8 bytes": r"\\xff",
}


def path(holding: int, i: int) -> bytes:
    variable = VARIABLES[i % len(VARIABLES)]
    name = f"/gws/nopw/j04/proj{holding % 20:02d}/run{holding:03d}/{variable}/"
    name += f"{variable}_{1850 + i % 250}_{i:05d}.nc"
    data = name.encode()
    return data.replace(b".nc", b"-\xff.nc") if i % 100_000 == 7 else data


@pytest.fixture(scope="module")
def bench_url(settings: Settings) -> str:
    """The scratch catalog, filled once."""
    admin = create_engine(settings.postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DATABASE}
        ).first():
            conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    url = make_url(settings.postgres_url).set(database=DATABASE)
    url_text = url.render_as_string(hide_password=False)
    engine = make_engine(url_text)
    upgrade(engine)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM files")).scalar()
    if have != FILES:
        _fill(engine)
    engine.dispose()
    return url_text


def _fill(engine: Engine) -> None:
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX IF EXISTS ix_files_path_text_trgm"))
        conn.execute(
            text("TRUNCATE holdings, holding_tags, transactions, files, checksums, locations")
        )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(
            'COPY holdings (id, "user", "group", label, transaction_id, created_at, deleted) '
            "FROM STDIN"
        ) as copy:
            for h in range(1, HOLDINGS + 1):
                copy.write_row(
                    (h, "bench", "bench", f"run{h:03d}", f"t{h}", 1_700_000_000_000, False)
                )
            copy.write_row(
                (HOLDINGS + 1, "other", "other", "other", "t-o", 1_700_000_000_000, False)
            )
        with cursor.copy(
            'COPY transactions (transaction_id, holding_id, "user", "group", api_action, '
            "job_label, ingest_time) FROM STDIN"
        ) as copy:
            for h in range(1, HOLDINGS + 1):
                copy.write_row((f"t{h}", h, "bench", "bench", "put", f"t{h}", 1_700_000_000_000))
        with cursor.copy(
            "COPY files (id, holding_id, transaction_id, path, path_type, link_path, size, mode, "
            "uid, gid, mtime_ns, state, created_at) FROM STDIN"
        ) as copy:
            for h in range(1, HOLDINGS + 1):
                for i in range(PER_HOLDING):
                    copy.write_row(
                        (
                            h * PER_HOLDING + i,
                            h,
                            f"t{h}",
                            path(h, i),
                            "FILE",
                            None,
                            1000,
                            0o100644,
                            1000,
                            1000,
                            0,
                            "CATALOGED",
                            1_700_000_000_000,
                        )
                    )
        with cursor.copy("COPY checksums (file_id, algorithm, value) FROM STDIN") as copy:
            for h in range(1, HOLDINGS + 1):
                for i in range(PER_HOLDING):
                    copy.write_row((h * PER_HOLDING + i, "ADLER32", f"{i:08x}"))
        with cursor.copy(
            "COPY locations (file_id, storage_type, root, path, access_time) FROM STDIN"
        ) as copy:
            for h in range(1, HOLDINGS + 1):
                for i in range(PER_HOLDING):
                    copy.write_row(
                        (
                            h * PER_HOLDING + i,
                            "OBJECT_STORAGE",
                            "nearline-cache",
                            f"h{h}/t{h}/{i}",
                            1_700_000_000_000,
                        )
                    )
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE INDEX ix_files_path_text_trgm ON files "
                "USING gin (nearline_path_text(path) gin_trgm_ops)"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    print(f"\nfilled {FILES:,} files in {time.perf_counter() - started:.0f} s")


@pytest.fixture(scope="module")
def bench_settings(settings: Settings, bench_url: str, tmp_path_factory) -> Settings:
    home = tmp_path_factory.mktemp("bench")
    return Settings(
        home=home,
        catalog={"url": bench_url},
        auth={"local": {"token_secret": "bench-secret-long-enough-for-hs256-signing"}},
    )


def timed(call, runs: int = RUNS) -> tuple[float, float, int]:
    """Median and worst seconds of ``runs`` calls (after one warm-up), and the result size."""
    size = call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times), size


def test_a_regex_find_of_1000_among_a_million_files_takes_under_half_a_second(bench_settings):
    engine = catalog_reader(bench_settings)
    scope = Scope("bench", "bench")
    rows = []
    with engine.connect() as conn:
        for name, pattern in PATTERNS.items():
            median, worst, size = timed(
                lambda p=pattern: len(
                    find_files(conn, scope, HoldingSelector(), regex=p, limit=LIMIT)
                )
            )
            rows.append((name, pattern, size, median, worst))
    engine.dispose()
    print(f"\nFIND by regex, limit {LIMIT}, {FILES:,} files (query with checksums, locations):")
    for name, pattern, size, median, worst in rows:
        print(
            f"  {name:36} {pattern!r:26} {size:5} found  median {median * 1000:6.1f} ms"
            f"  worst {worst * 1000:6.1f} ms"
        )
    assert all(median < BUDGET_S for *_, median, _ in rows), rows


def test_the_nlds_find_route_answers_within_half_a_second_too(bench_settings):
    local = bench_settings.auth.local
    tokens = LocalTokens(
        local, Directory(bench_settings.home / "u"), b"bench-secret-long-enough-for-hs256-signing"
    )
    headers = {"Authorization": f"Bearer {tokens.issue('bench', ('bench',))['access_token']}"}
    rows = []
    with TestClient(create_app(bench_settings, request_log=RecordingLog)) as client:
        for name, pattern in PATTERNS.items():

            def call(p: str = pattern) -> int:
                response = client.get(
                    "/api/1.0.0/catalog/find/",
                    params={
                        "user": "bench",
                        "group": "bench",
                        "path": p,
                        "regex": True,
                        "limit": LIMIT,
                    },
                    headers=headers,
                )
                holdings = json.loads(response.json())["data"]["holdings"]
                return sum(
                    len(t["filelist"])
                    for h in holdings.values()
                    for t in h["transactions"].values()
                )

            median, worst, size = timed(call, runs=5)
            rows.append((name, size, median, worst))
    print(f"\nGET /api/1.0.0/catalog/find/?regex=true&limit={LIMIT}, {FILES:,} files:")
    for name, size, median, worst in rows:
        print(
            f"  {name:36} {size:5} found  median {median * 1000:6.1f} ms"
            f"  worst {worst * 1000:6.1f} ms"
        )
    assert all(median < BUDGET_S for *_, median, _ in rows), rows
