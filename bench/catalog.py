"""LIST and FIND latency over a large catalog in PostgreSQL.

A scratch database in the stack's PostgreSQL is filled once (and kept) with 1,000,000
files in 10,000 holdings: 200 users of 50 holdings of 100 files, in 10 groups, each file
with its checksums and object-store location. Queries go through the API's own query
functions and, for one case of each, through the HTTP route with a real token, so the
figures include serialisation. Each case runs against many different users or paths
(not one warmed query), and prints the median and the 95th percentile.

Targets: LIST and an exact-path FIND under 50 ms median; a regex FIND limited to 1,000
results under 500 ms median.

    python bench/catalog.py [--runs 60] [--users 200]

``--users`` scales the catalog (50 holdings of 100 files each); a size other than the
default gets a scratch database of its own, so a smoke run never empties the big one.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.auth.directory import Directory
from api.auth.families import MemoryFamilies
from api.auth.local import LocalTokens
from api.auth.users import add_user
from api.queries.holdings import list_holdings
from domain.access import Scope
from nearline.settings import Settings
from projections.db import make_engine
from projections.migrate import upgrade
from projections.queries.files import find_files
from projections.queries.filters import HoldingSelector
from projections.queries.reader import catalog_reader

DATABASE = "nearline_bench_catalog"
USERS, HOLDINGS_PER_USER, FILES_PER_HOLDING, GROUPS = 200, 50, 100, 10
HOLDINGS = USERS * HOLDINGS_PER_USER
FILES = HOLDINGS * FILES_PER_HOLDING
VARIABLES = ["tas", "pr", "psl", "uas", "vas", "hus", "ta", "ua", "va", "zg"]
SECRET = b"bench-catalog-secret-long-enough-for-hs256"
CREATED = 1_700_000_000_000


def user_of(holding: int) -> str:
    return f"user{(holding - 1) // HOLDINGS_PER_USER:03d}"


def group_of(user_number: int) -> str:
    return f"group{user_number % GROUPS:02d}"


def file_path(holding: int, i: int) -> bytes:
    user = (holding - 1) // HOLDINGS_PER_USER
    variable = VARIABLES[i % len(VARIABLES)]
    return (
        f"/gws/nopw/j04/proj{user % 20:02d}/user{user:03d}/run{holding:05d}/{variable}/"
        f"{variable}_{1850 + i % 250}_{i:03d}.nc"
    ).encode()


def scale(users: int) -> None:
    """Set the catalog's size: ``users`` users of 50 holdings of 100 files."""
    global USERS, HOLDINGS, FILES, DATABASE
    USERS, HOLDINGS = users, users * HOLDINGS_PER_USER
    FILES = HOLDINGS * FILES_PER_HOLDING
    if users != 200:
        DATABASE = f"nearline_bench_catalog_{users}"


def scratch_database(settings: Settings) -> str:
    """The scratch catalog's URL, filled when it is not complete."""
    admin = create_engine(settings.postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        known = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DATABASE})
        if not known.first():
            conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    url = make_url(settings.postgres_url).set(database=DATABASE).render_as_string(False)
    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM files")).scalar()
    if have != FILES:
        fill(engine)
    engine.dispose()
    return url


def fill(engine: Engine) -> None:
    print(f"filling {FILES:,} files in {HOLDINGS:,} holdings (once; kept for later runs)")
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX IF EXISTS ix_files_path_text_trgm"))
        conn.execute(
            text(
                "TRUNCATE holdings, holding_tags, transactions, files, checksums, locations CASCADE"
            )
        )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        holdings = range(1, HOLDINGS + 1)
        with cursor.copy(
            'COPY holdings (id, "user", "group", label, transaction_id, created_at, deleted) '
            "FROM STDIN"
        ) as copy:
            for h in holdings:
                user = (h - 1) // HOLDINGS_PER_USER
                row = (h, user_of(h), group_of(user), f"run{h:05d}", f"t{h}", CREATED, False)
                copy.write_row(row)
        with cursor.copy("COPY holding_tags (holding_id, key, value) FROM STDIN") as copy:
            for h in holdings:
                copy.write_row((h, "experiment", f"exp{h % 7}"))
                copy.write_row((h, "year", str(2000 + h % 20)))
        with cursor.copy(
            'COPY transactions (transaction_id, holding_id, "user", "group", api_action, '
            "job_label, ingest_time) FROM STDIN"
        ) as copy:
            for h in holdings:
                user = (h - 1) // HOLDINGS_PER_USER
                copy.write_row((f"t{h}", h, user_of(h), group_of(user), "put", f"t{h}", CREATED))
        with cursor.copy(
            "COPY files (id, holding_id, transaction_id, path, path_type, link_path, size, mode, "
            "uid, gid, mtime_ns, state, created_at) FROM STDIN"
        ) as copy:
            for h in holdings:
                for i in range(FILES_PER_HOLDING):
                    copy.write_row(
                        (h * FILES_PER_HOLDING + i, h, f"t{h}", file_path(h, i), "FILE", None,
                         65536, 0o100644, 1000, 1000, 0, "CATALOGED", CREATED)
                    )  # fmt: skip
        with cursor.copy("COPY checksums (file_id, algorithm, value) FROM STDIN") as copy:
            for h in holdings:
                for i in range(FILES_PER_HOLDING):
                    copy.write_row((h * FILES_PER_HOLDING + i, "ADLER32", f"{i:08x}"))
        with cursor.copy(
            "COPY locations (file_id, storage_type, root, path, access_time) FROM STDIN"
        ) as copy:
            for h in holdings:
                for i in range(FILES_PER_HOLDING):
                    key = f"h{h}/t{h}/{i}"
                    copy.write_row(
                        (h * FILES_PER_HOLDING + i, "OBJECT_STORAGE", "cache", key, CREATED)
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
    print(f"filled in {time.perf_counter() - started:.0f} s")


def timed(case: Callable[[int], int], runs: int) -> tuple[float, float, float]:
    """Median and 95th percentile milliseconds of ``case(n)`` for n in 0..runs-1 (each n
    a different user or path), after one warm-up; and the mean result size."""
    case(runs)
    times, sizes = [], []
    for n in range(runs):
        started = time.perf_counter()
        sizes.append(case(n))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], statistics.mean(sizes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--users", type=int, default=200, help="catalog size: 5,000 files each")
    args = parser.parse_args()
    runs = args.runs
    scale(args.users)
    settings = Settings()
    if not settings.postgres_url:
        print("the local stack's PostgreSQL is not known: run `make stack-up`", file=sys.stderr)
        return 1
    url = scratch_database(settings)
    home = Path(tempfile.mkdtemp(prefix="nearline-bench-"))
    pick = random.Random(7)
    users = [pick.randrange(USERS) for _ in range(runs + 1)]
    users_file = home / "users.toml"  # the users whose tokens the HTTP cases send
    for number in sorted(set(users)):
        add_user(users_file, f"user{number:03d}", "bench-password", [group_of(number)])
    bench_settings = Settings(
        home=home,
        catalog={"url": url},
        auth={"local": {"token_secret": SECRET.decode(), "users_file": users_file}},
    )
    holdings = [u * HOLDINGS_PER_USER + pick.randrange(HOLDINGS_PER_USER) + 1 for u in users]
    files = [pick.randrange(FILES_PER_HOLDING) for _ in range(runs + 1)]

    def scope(n: int) -> Scope:
        return Scope(f"user{users[n]:03d}", group_of(users[n]))

    def group_scope(n: int) -> Scope:
        return Scope(f"user{users[n]:03d}", group_of(users[n]), groupall=True)

    engine = catalog_reader(bench_settings)
    rows: list[tuple[str, float, float, float, float]] = []
    with engine.connect() as conn:

        def listed(who: Callable[[int], Scope], **selector) -> Callable[[int], int]:
            def call(n: int) -> int:
                chosen = {k: v(n) if callable(v) else v for k, v in selector.items()}
                limit = chosen.pop("limit", None)
                return len(list_holdings(conn, who(n), HoldingSelector(**chosen), limit))

            return call

        def found(who: Callable[[int], Scope], **query) -> Callable[[int], int]:
            def call(n: int) -> int:
                chosen = {k: v(n) if callable(v) else v for k, v in query.items()}
                return len(find_files(conn, who(n), HoldingSelector(), **chosen))

            return call

        def exact(n: int) -> bytes:
            return file_path(holdings[n], files[n])

        def run_folder(n: int) -> str:
            return f"/run{holdings[n]:05d}/pr/"

        query_cases: list[tuple[str, float, Callable[[int], int]]] = [
            ("LIST a user's holdings (50)", 50, listed(scope)),
            ("LIST a group's holdings, limit 1000", 50, listed(group_scope, limit=1000)),
            ("LIST by label", 50, listed(scope, label=lambda n: f"run{holdings[n]:05d}")),
            ("LIST by tag", 50, listed(scope, tags={"experiment": "exp3"})),
            ("FIND an exact path", 50, found(scope, path=exact)),
            ("FIND an exact path, groupall", 50, found(group_scope, path=exact)),
            ("FIND regex, every file, limit 1000", 500, found(scope, regex=r"\.nc$", limit=1000)),
            ("FIND regex, one variable, limit 1000", 500,
             found(scope, regex=r"/tas_19[0-9]{2}_", limit=1000)),
            ("FIND regex, one run's folder", 500, found(scope, regex=run_folder, limit=1000)),
            ("FIND regex, group, nothing matches", 500,
             found(group_scope, regex="no-such-file", limit=1000)),
        ]  # fmt: skip
        for name, target, case in query_cases:
            rows.append((name, target, *timed(case, runs)))
    engine.dispose()

    # Token families in memory: the bench's users log in nowhere else.
    local = bench_settings.auth.local
    tokens = LocalTokens(local, Directory(users_file), SECRET, MemoryFamilies())

    def headers(n: int) -> dict[str, str]:
        token = tokens.issue(f"user{users[n]:03d}", (group_of(users[n]),))["access_token"]
        return {"Authorization": f"Bearer {token}"}

    with TestClient(create_app(bench_settings, authenticator=tokens)) as client:

        def http(route: str, params: Callable[[int], dict]) -> Callable[[int], int]:
            def call(n: int) -> int:
                response = client.get(route, params=params(n), headers=headers(n))
                response.raise_for_status()
                return len(response.content)

            return call

        http_cases = [
            ("HTTP GET /api/v1/holdings", 50, http("/api/v1/holdings", lambda n: {})),
            ("HTTP GET /api/v1/files?path=", 50,
             http("/api/v1/files", lambda n: {"path": file_path(holdings[n], files[n]).decode()})),
            ("HTTP GET /api/v1/files?regex=, limit 1000", 500,
             http("/api/v1/files", lambda n: {"regex": r"/tas_19[0-9]{2}_", "limit": 1000})),
        ]  # fmt: skip
        for name, target, case in http_cases:
            rows.append((name, target, *timed(case, runs)))

    print(f"\nLIST and FIND, {FILES:,} files in {HOLDINGS:,} holdings of {USERS} users "
          f"(PostgreSQL, {runs} runs each, different users and paths)")  # fmt: skip
    print(f"  {'case':44} {'median':>9} {'p95':>9} {'target':>8}  size")
    failures = 0
    for name, target, median, p95, size in rows:
        verdict = "met" if median < target else "MISSED"
        failures += verdict == "MISSED"
        unit = "B" if name.startswith("HTTP") else "rows"
        print(
            f"  {name:44} {median:7.1f}ms {p95:7.1f}ms {target:6.0f}ms  {size:,.0f} {unit}"
            f"  [{verdict}]"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
