"""``make demo``: the main job on the local stack, the whole round trip.

It runs nearline's processes under ``nearline-admin serve`` (admin.supervisor), as an
operator would, with the catalog in the embedded SQLite database; PUTs a small tree with
awkward names and shows where every file lives and with which checksum, checking each
cached object in the S3 server; archives the holding to tape (XRootD with tape
semantics) and shows both copies; evicts every cache copy and shows tape only; then
GETs the tree back from tape (staged, its members read by offset into another folder,
then put back in the cache), compares it with the original, and shows the locations
again.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from textwrap import indent

from sqlalchemy import Engine, select

from admin import supervisor
from admin.serve import table
from domain.object_keys import key_prefix
from domain.pack_keys import slice_of
from domain.states import FINAL_NAMES
from nearline import bus
from nearline.requests import RequestLog
from nearline.settings import Settings
from processors.sweeper.passes import archive_sweep, eviction_pass
from processors.sweeper.wiring import ProjectionReads
from projections import tables as t
from projections.db import catalog_engine
from projections.migrate import upgrade
from stack import s3


def sample_tree(root: Path) -> Path:
    """A small tree of the kind scientists keep: nested runs, an empty folder, a link."""
    if root.exists():
        shutil.rmtree(root)
    run = root / "model-run"
    (run / "output" / "daily").mkdir(parents=True)
    (run / "logs").mkdir()
    (run / "empty").mkdir()
    for day in range(1, 4):
        (run / "output" / "daily" / f"tas_day{day:02d}.nc").write_bytes(os.urandom(64_000))
    (run / "output" / "monthly mean.nc").write_bytes(os.urandom(250_000))
    (run / "logs" / "run.log").write_text("step 1 ok\nstep 2 ok\n")
    (run / "README").write_text("A demonstration run.\n")
    (run / "latest").symlink_to("output/daily/tas_day03.nc")
    return run


DEMO_ACCOUNT = "nearline-demo"


def demo_account(settings: Settings) -> tuple[str, str, Path]:
    """Who the demo acts for, their group, and a folder of theirs for its files.

    nearline never acts for root (``posix.min_uid``): run as root, the demo makes an
    ordinary account of its own and a folder it can reach, wherever this checkout is.
    """
    if os.geteuid() != 0:
        place = settings.home / "demo-files"
        place.mkdir(parents=True, exist_ok=True)
        return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name, place
    try:
        entry = pwd.getpwnam(DEMO_ACCOUNT)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--no-create-home",
                "--user-group",
                "-s",
                "/usr/sbin/nologin",
                DEMO_ACCOUNT,
            ],
            check=True,
        )
        entry = pwd.getpwnam(DEMO_ACCOUNT)
    place = Path(tempfile.gettempdir()) / f"nearline-demo-{entry.pw_uid}"
    place.mkdir(mode=0o755, exist_ok=True)
    os.chown(place, entry.pw_uid, entry.pw_gid)
    return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name, place


def hand_over(root: Path, user: str) -> None:
    """Give ``root`` and everything below it to ``user`` (the demo made them as root)."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    for folder, dirs, files in os.walk(root):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def follow(engine: Engine, transaction_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            state = conn.execute(
                select(t.status_transactions.c.state).where(
                    t.status_transactions.c.transaction_id == transaction_id
                )
            ).scalar()
        if state and state != shown:
            print(f"  state: {state}")
            shown = state
        if state in FINAL_NAMES:
            return state
        time.sleep(0.3)
    raise SystemExit(f"the transaction did not finish within {timeout:.0f}s: see .nearline/run/")


def show_holding(engine: Engine, settings: Settings, transaction_id: str) -> int:
    """Print the holding's entries with their checksum and every copy; check each cached
    object in S3. Returns the number of wrong objects."""
    bucket = s3.client(settings)
    problems = 0
    with engine.connect() as conn:
        holding = conn.execute(
            select(t.holdings)
            .join(t.transactions, t.transactions.c.holding_id == t.holdings.c.id)
            .where(t.transactions.c.transaction_id == transaction_id)
        ).one()
        tags = {
            row.key: row.value
            for row in conn.execute(
                select(t.tags.c.key, t.tags.c.value).where(t.tags.c.holding_id == holding.id)
            )
        }
        print(f"  holding {holding.id} {holding.label!r} of {holding.user}, tags {tags}")
        files = conn.execute(
            select(t.files)
            .where(t.files.c.transaction_id == transaction_id)
            .order_by(t.files.c.path)
        ).all()
        for f in files:
            checksum = conn.execute(
                select(t.checksums.c.value).where(
                    (t.checksums.c.file_id == f.id) & (t.checksums.c.algorithm == "ADLER32")
                )
            ).scalar()
            copies = []
            for location in conn.execute(select(t.locations).where(t.locations.c.file_id == f.id)):
                if location.storage_type == "OBJECT_STORAGE":
                    # A small file is a slice of a pack (D90): its bytes must lie inside it.
                    part = slice_of(location.path)
                    key = part.pack if part else location.path
                    head = bucket.head_object(Bucket=location.root, Key=key)
                    if part is None:
                        ok = head["ContentLength"] == f.size
                    else:
                        ok = part.size == f.size and part.last < head["ContentLength"]
                    problems += not ok
                    kind = "cache" if part is None else "cache (pack)"
                    copies.append(kind + ("" if ok else " (SIZE MISMATCH)"))
                else:
                    copies.append(f"tape:{location.root.rsplit('/', 1)[-1][:16]}")
            where = " + ".join(sorted(copies)) or "-"
            name = os.fsdecode(f.path)
            print(
                f"  {f.path_type:9} {f.size:>8}  adler32 {checksum or '-':8}  {where:32} {name!r}"
            )
    return problems


def copies_of(engine: Engine, transaction_id: str) -> dict[str, int]:
    """How many of the transaction's files have each kind of copy."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.locations.c.storage_type)
            .join(t.files, t.files.c.id == t.locations.c.file_id)
            .where(t.files.c.transaction_id == transaction_id)
        ).scalars()
        counts: dict[str, int] = {}
        for kind in rows:
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def wait_for(check: Callable[[], bool], what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not happen within {timeout:.0f}s: see .nearline/run/")
        time.sleep(0.5)


def archive(
    settings: Settings, engine: Engine, holding_id: int, transaction_id: str, files: int
) -> None:
    producer = bus.producer(settings)
    sent = archive_sweep(settings, ProjectionReads(engine), producer, [holding_id])
    producer.flush(15)
    members = sum(len(r.members) for r in sent)
    print(f"  {len(sent)} aggregate(s) of {members} files sent to tape")
    wait_for(lambda: copies_of(engine, transaction_id).get("TAPE", 0) >= files, "the archive")


def evict_everything(
    settings: Settings, engine: Engine, holding_id: int, transaction_id: str
) -> None:
    """An eviction pass with a cache of one byte: every archived copy must go."""
    tiny = settings.eviction.model_copy(
        update={"cache_capacity_bytes": 1, "high_watermark": 0.5, "low_watermark": 0.0}
    )
    producer = bus.producer(settings)
    done = eviction_pass(
        settings.model_copy(update={"eviction": tiny}), ProjectionReads(engine), producer
    )
    producer.flush(15)
    print(f"  {len(done.plan.chosen)} cache copies chosen, {done.plan.freed} bytes")
    wait_for(lambda: "OBJECT_STORAGE" not in copies_of(engine, transaction_id), "the eviction")
    # The small files shared packs (D90): the decider has them removed with their last file.
    client, prefix = s3.client(settings), key_prefix(holding_id, transaction_id)
    wait_for(
        lambda: client.list_objects_v2(Bucket=settings.s3.bucket, Prefix=prefix)["KeyCount"] == 0,
        "the cache's objects to be removed",
    )
    print("  the S3 cache holds no object of this holding")


def differences(original: Path, restored: Path) -> list[str]:
    """What differs between two trees: entries, kinds, contents, link targets, modes and
    mtimes (of directories too: a GET of several sub-batches finishes them last, D34)."""
    problems = []
    for folder, dirnames, filenames in os.walk(original):
        for name in dirnames + filenames:
            a = Path(folder) / name
            b = restored / a.relative_to(original)
            if not b.exists() and not b.is_symlink():
                problems.append(f"missing {b}")
                continue
            sa, sb = a.lstat(), b.lstat()
            if a.is_symlink():
                same = b.is_symlink() and os.readlink(a) == os.readlink(b)
            elif a.is_dir():
                same = b.is_dir() and sa.st_mode == sb.st_mode
            else:
                same = a.read_bytes() == b.read_bytes() and sa.st_mode == sb.st_mode
            if not same or sa.st_mtime_ns != sb.st_mtime_ns:
                problems.append(f"differs: {b}")
    return problems


def main() -> int:
    settings = Settings()
    engine = catalog_engine(settings)
    upgrade(engine)
    print("starting nearline's processes under `nearline-admin serve` (catalog: embedded SQLite)")
    with supervisor.supervised(settings):
        print(indent(table(supervisor.read_state(settings)), "  "))
        user, group, place = demo_account(settings)
        run = sample_tree(place / "demo")
        hand_over(place, user)
        label = time.strftime("demo-%Y%m%d-%H%M%S")
        requests = RequestLog(settings)
        print(f"\n1. PUT {run} as {user} into holding {label!r}")
        put = requests.put(
            user=user,
            group=group,
            paths=[str(run)],
            label=label,
            tags={"project": "demo", "model": "toy"},
        )
        requests.close()
        print(f"  transaction {put.transaction_id}")
        state = follow(engine, put.transaction_id)
        problems = show_holding(engine, settings, put.transaction_id)
        with engine.connect() as conn:
            holding_id = conn.execute(
                select(t.transactions.c.holding_id).where(
                    t.transactions.c.transaction_id == put.transaction_id
                )
            ).scalar_one()
            stored = conn.execute(
                select(t.files.c.id).where(
                    (t.files.c.transaction_id == put.transaction_id)
                    & (t.files.c.path_type == "FILE")
                )
            ).all()

        print("\n2. ARCHIVE: the holding's cached files go to tape in a tar aggregate")
        archive(settings, engine, holding_id, put.transaction_id, len(stored))
        problems += show_holding(engine, settings, put.transaction_id)

        print("\n3. EVICT: cache copies of files safe on tape are removed")
        evict_everything(settings, engine, holding_id, put.transaction_id)
        show_holding(engine, settings, put.transaction_id)

        restored = place / "demo-get"
        shutil.rmtree(restored, ignore_errors=True)
        restored.mkdir()
        hand_over(restored, user)
        pattern = "^" + re.escape(str(run)) + "(/|$)"
        print(f"\n4. GET every entry matching {pattern!r} into {restored}, from tape")
        requests = RequestLog(settings)
        get = requests.get(user=user, group=group, regex=pattern, target=str(restored))
        requests.close()
        print(f"  transaction {get.transaction_id}")
        got = follow(engine, get.transaction_id, timeout=300)
        mismatches = differences(run, restored / run.relative_to("/"))
        for line in mismatches:
            print(f"  {line}")

        # The GET was written straight from the staged aggregate; the members go back into
        # the cache after it (decision D231).
        def filled(copies: dict[str, int]) -> bool:
            return copies.get("OBJECT_STORAGE", 0) >= copies.get("TAPE", 0)

        wait_for(
            lambda: filled(copies_of(engine, put.transaction_id)),
            "the cache filled again after the GET",
        )
        print("  the files are in the cache again, beside their tape copies:")
        problems += show_holding(engine, settings, put.transaction_id)
    if state != "COMPLETE" or problems or got != "COMPLETE" or mismatches:
        print(
            f"\ndemo FAILED: PUT {state}, {problems} object(s) wrong; "
            f"GET {got}, {len(mismatches)} entr(ies) differ"
        )
        return 1
    print(
        "\ndemo finished: PUT to the cache, archived to tape, evicted from the cache, and "
        "every entry came back from tape with its contents, mode, link target and mtime"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
