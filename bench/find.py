"""Listing one large holding: FIND streamed through the real API and the ``nearline find``
command, against a plain COPY of the same rows out of PostgreSQL.

A scratch database in the stack's PostgreSQL is filled once (and kept) with one holding
of ``--files`` files (default 1,000,000), each with a checksum and an object-store
location. The API runs under uvicorn in a process of its own (``python -m api``) on that
database; each client runs in a process of its own too, so that the memory each reports
is its own. The holding is listed whole:

- through HTTP as NDJSON (``Client.each_file``) and as JSON pages followed by
  ``next``/``after``: time to the first entry, entries/s, peak RSS of the API and the client;
- through ``nearline find`` (the tab-separated lines, and ``--json``) to /dev/null;
- as the anchor, ``COPY (SELECT ...) TO STDOUT`` of the same rows with psycopg.

Beside wall time, the CPU seconds of the API, of the client and of PostgreSQL (its
backends', counted from its postmaster once the way's connections are closed): on a
shared machine they say what each way costs whatever else runs.

Targets (issue 16): every entry at >= 50,000 entries/s, the first in under 1 s, memory
that does not grow with the listing. The figures are printed, not asserted.

    python bench/find.py [--files 1000000] [--page 10000]

A size other than the default gets a scratch database of its own, so a smoke run never
empties the big one.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from api.auth.users import add_user
from client.library.client import Client
from nearline.settings import Settings
from projections.db import make_engine
from projections.migrate import upgrade

FILES = 1_000_000
HOLDING = 1
USER, GROUP, PASSWORD = "bench", "benchgroup", "bench-find-password"
CREATED = 1_700_000_000_000
VARIABLES = ["tas", "pr", "psl", "uas", "vas", "hus", "ta", "ua", "va", "zg"]
HERE = Path(__file__).resolve().parent
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024
TICKS = os.sysconf("SC_CLK_TCK")


def database_name(files: int) -> str:
    return "nearline_bench_find" if files == FILES else f"nearline_bench_find_{files}"


def file_path(i: int) -> bytes:
    variable = VARIABLES[i % len(VARIABLES)]
    return (
        f"/gws/nopw/j04/proj01/bench/run{i // 10_000:03d}/{variable}/"
        f"{variable}_{1850 + i % 250}_{i:07d}.nc"
    ).encode()


def scratch_database(settings: Settings, files: int) -> str:
    """The scratch catalog's URL, filled when it does not hold ``files`` files."""
    name = database_name(files)
    admin = create_engine(settings.postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        known = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name})
        if not known.first():
            conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = make_url(settings.postgres_url).set(database=name).render_as_string(False)
    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM files")).scalar()
    if have != files:
        fill(engine, files)
    engine.dispose()
    return url


def fill(engine: Engine, files: int) -> None:
    print(f"filling one holding of {files:,} files (once; kept for later runs)")
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
        with cursor.copy(
            'COPY holdings (id, "user", "group", label, transaction_id, created_at, deleted) '
            "FROM STDIN"
        ) as copy:
            copy.write_row((HOLDING, USER, GROUP, "big-run", "t1", CREATED, False))
        with cursor.copy(
            'COPY transactions (transaction_id, holding_id, "user", "group", api_action, '
            "job_label, ingest_time) FROM STDIN"
        ) as copy:
            copy.write_row(("t1", HOLDING, USER, GROUP, "put", "t1", CREATED))
        with cursor.copy(
            "COPY files (id, holding_id, transaction_id, path, path_type, link_path, size, mode, "
            "uid, gid, mtime_ns, state, created_at) FROM STDIN"
        ) as copy:
            for i in range(files):
                copy.write_row(
                    (i + 1, HOLDING, "t1", file_path(i), "FILE", None, 65536 + i, 0o100644,
                     1000, 1000, CREATED * 1_000_000, "CATALOGED", CREATED)
                )  # fmt: skip
        with cursor.copy("COPY checksums (file_id, algorithm, value) FROM STDIN") as copy:
            for i in range(files):
                copy.write_row((i + 1, "ADLER32", f"{i:08x}"))
        with cursor.copy(
            "COPY locations (file_id, storage_type, root, path, access_time) FROM STDIN"
        ) as copy:
            for i in range(files):
                copy.write_row((i + 1, "OBJECT_STORAGE", "nearline-cache", f"1/t1/{i}", CREATED))
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


ANCHOR = """
COPY (
  SELECT f.id, f.holding_id, h.label, h."user", h."group", f.transaction_id,
         coalesce(tx.ingest_time, f.created_at), f.path, f.path_type, f.link_path, f.size,
         f.mode, f.uid, f.gid, f.mtime_ns, c.algorithm, c.value,
         l.storage_type, l.root, l.path, l.access_time
  FROM files f
  JOIN holdings h ON h.id = f.holding_id
  LEFT JOIN transactions tx ON tx.transaction_id = f.transaction_id
  LEFT JOIN checksums c ON c.file_id = f.id
  LEFT JOIN locations l ON l.file_id = f.id
  WHERE f.holding_id = %s AND f.state = 'CATALOGED'
  ORDER BY f.holding_id, f.path
) TO STDOUT
"""


@dataclass
class Figures:
    way: str
    entries: int
    first_s: float | None
    total_s: float
    api_peak: int | None = None  # bytes
    api_cpu_s: float | None = None
    client_peak: int | None = None  # bytes
    client_cpu_s: float | None = None
    database_cpu_s: float | None = None


def anchor(url: str) -> Figures:
    """The same rows (with checksum and location) straight out of PostgreSQL."""
    engine = make_engine(url)
    database = Database(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        first, lines = None, 0
        with cursor.copy(ANCHOR, (HOLDING,)) as copy:
            for block in copy:
                if first is None:
                    first = time.perf_counter() - started
                lines += bytes(block).count(b"\n")
        total = time.perf_counter() - started
    finally:
        raw.close()
        engine.dispose()
    figures = Figures("COPY (SELECT ...) TO STDOUT", lines, first, total)
    figures.database_cpu_s = database.cpu_s()
    return figures


class Database:
    """CPU seconds the stack's PostgreSQL spent since this was made: its backends' that
    ended (the postmaster's reaped children) and those still running. Read once the
    connections of the run are closed, it counts their work whatever else ran on the
    machine (D213)."""

    def __init__(self, url: str) -> None:
        engine = make_engine(url)
        with engine.connect() as conn:  # its backend's parent, read while it runs
            backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            self.postmaster = int(_stat(backend)[1])
        engine.dispose()
        self.start = self._total()

    def _total(self) -> float:
        reaped = _stat(self.postmaster)
        total = int(reaped[13]) + int(reaped[14])  # cutime, cstime
        children = Path(f"/proc/{self.postmaster}/task/{self.postmaster}/children")
        for child in children.read_text().split():
            try:
                stat = _stat(int(child))
            except FileNotFoundError:
                continue
            total += int(stat[11]) + int(stat[12])  # utime, stime
        return total / TICKS

    def cpu_s(self) -> float:
        time.sleep(0.5)  # the run's backends end and are reaped
        return self._total() - self.start


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name (state first)."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


class ApiProcess:
    """``python -m api`` of the local stack, on the scratch database and with the bench's
    users; its resident memory sampled while a listing runs."""

    def __init__(self, url: str, users: Path) -> None:
        self.port = free_port()
        self.server = f"http://127.0.0.1:{self.port}"
        env = os.environ | {
            "NEARLINE_CATALOG__URL": url,
            "NEARLINE_PORTS__API": str(self.port),
            "NEARLINE_AUTH__LOCAL__USERS_FILE": str(users),
            "NEARLINE_LOG__LEVEL": "WARNING",
        }
        self.process = subprocess.Popen([sys.executable, "-m", "api"], env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.server}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the API did not start")
            time.sleep(0.2)

    def rss(self) -> int:
        status = Path(f"/proc/{self.process.pid}/statm").read_text().split()
        return int(status[1]) * PAGE

    def cpu_s(self) -> float:
        stat = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(stat[11]) + int(stat[12])) / TICKS

    def watched(self, run: subprocess.Popen[bytes]) -> tuple[int, float, int, float]:
        """Wait for ``run``: the API's peak RSS and CPU seconds meanwhile, and the peak
        RSS and CPU seconds of ``run`` itself (from its rusage)."""
        peak, cpu = self.rss(), self.cpu_s()
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.05):
                peak = max(peak, self.rss())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, _status, usage = os.wait4(run.pid, 0)
        run.returncode = os.waitstatus_to_exitcode(_status)
        done.set()
        sampler.join()
        return peak, self.cpu_s() - cpu, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def through_client(api: ApiProcess, way: str, session: Path, page: int) -> Figures:
    command = [sys.executable, str(HERE / "listing_client.py"), way, api.server, str(session)]
    run = subprocess.Popen([*command, str(HOLDING), "--page", str(page)], stdout=subprocess.PIPE)
    assert run.stdout is not None
    output = run.stdout  # read after the exit: one short line
    peak, cpu, client_peak, client_cpu = api.watched(run)
    reply = json.loads(output.read())
    name = "HTTP NDJSON (Client.each_file)" if way == "ndjson" else f"HTTP pages of {page:,}"
    return Figures(
        name,
        reply["entries"],
        reply["first_s"],
        reply["total_s"],
        peak,
        cpu,
        client_peak,
        client_cpu,
    )


def through_cli(api: ApiProcess, config: Path, *options: str) -> Figures:
    env = os.environ | {"XDG_CONFIG_HOME": str(config), "NEARLINE_URL": api.server}
    command = [sys.executable, "-m", "client.cli", "find", "--holding-id", str(HOLDING)]
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        run = subprocess.Popen([*command, *options], stdout=sink, env=env)
        peak, cpu, client_peak, client_cpu = api.watched(run)
    total = time.perf_counter() - started
    if run.returncode:
        raise SystemExit(f"nearline find failed ({run.returncode})")
    name = " ".join(["nearline find", *options, "> /dev/null"])
    return Figures(name, -1, None, total, peak, cpu, client_peak, client_cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=FILES)
    parser.add_argument("--page", type=int, default=10_000, help="files per JSON page")
    parser.add_argument(
        "--ways", default="copy,ndjson,pages,cli,cli-json", help="which of them to time"
    )
    args = parser.parse_args()
    settings = Settings()
    if not settings.postgres_url:
        print("the local stack's PostgreSQL is not known: run `make stack-up`", file=sys.stderr)
        return 1
    url = scratch_database(settings, args.files)
    home = Path(tempfile.mkdtemp(prefix="nearline-bench-find-"))
    add_user(home / "users.toml", USER, PASSWORD, [GROUP])
    config = home / "config"
    session = config / "nearline" / "token.json"

    ways = args.ways.split(",")
    rows = [anchor(url)] if "copy" in ways else []
    idle = 0
    runs: dict[str, Callable[[ApiProcess], Figures]] = {
        "ndjson": lambda api: through_client(api, "ndjson", session, args.page),
        "pages": lambda api: through_client(api, "pages", session, args.page),
        "cli": lambda api: through_cli(api, config),
        "cli-json": lambda api: through_cli(api, config, "--json"),
    }
    for way, run in runs.items():
        if way not in ways:
            continue
        api = ApiProcess(url, home / "users.toml")  # a fresh one: its peak is this way's
        try:
            idle = api.rss()
            with Client(api.server, session_path=session) as nearline:
                nearline.login(USER, PASSWORD)
            database = Database(url)
            rows.append(run(api))
        finally:
            api.stop()
        rows[-1].database_cpu_s = database.cpu_s()

    base = rows[0].total_s if "copy" in ways else None
    print(
        f"\nFIND of one holding of {args.files:,} files (PostgreSQL; API, clients and the "
        f"command each a process of their own, a new API for each, idle at {idle / MIB:.0f} MiB)"
    )
    print(
        f"  {'way':40} {'first':>8} {'total':>8} {'entries/s':>10} {'vs COPY':>8} "
        f"{'API peak':>9} {'API CPU':>8} {'client peak':>11} {'client CPU':>10} {'DB CPU':>7}"
    )
    for row in rows:
        entries = row.entries if row.entries >= 0 else args.files
        if entries != args.files:
            print(f"  {row.way}: {entries:,} entries, not {args.files:,}", file=sys.stderr)
        first = f"{row.first_s:7.3f}s" if row.first_s is not None else "       -"
        api_peak = f"{row.api_peak / MIB:6.0f} MiB" if row.api_peak else "        -"
        api_cpu = f"{row.api_cpu_s:7.1f}s" if row.api_cpu_s is not None else "       -"
        client = f"{row.client_peak / MIB:8.0f} MiB" if row.client_peak else "          -"
        client_cpu = f"{row.client_cpu_s:9.1f}s" if row.client_cpu_s is not None else "         -"
        ratio = f"{base / row.total_s:7.2f}x" if base else "       -"
        db_cpu = f"{row.database_cpu_s:6.1f}s" if row.database_cpu_s is not None else "      -"
        print(
            f"  {row.way:40} {first} {row.total_s:7.2f}s {entries / row.total_s:10,.0f} "
            f"{ratio} {api_peak} {api_cpu} {client} {client_cpu} {db_cpu}"
        )
    print("  targets: >= 50,000 entries/s, first entry under 1 s, memory flat in the listing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
