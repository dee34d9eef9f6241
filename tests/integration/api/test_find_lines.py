"""FIND's lines written by PostgreSQL (D210) are the bytes the API's models write, for the
files a real catalog can hold that plain ones do not show: paths that are not UTF-8 (as
Python's surrogate escapes send them), long ones whose base64 PostgreSQL would wrap,
quotes, backslashes, control characters, newlines, Unicode, links, no checksum or copy,
several of each, object keys that need quoting, pack slices, tape copies, times before
1970; and they list the same files as the rows rendered in Python, whoever asks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, insert, text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.auth.directory import Directory
from api.auth.families import MemoryFamilies
from api.auth.local import LocalTokens
from api.auth.users import add_user
from api.queries.file_lines import file_lines
from api.queries.file_pages import Listing, Sizes, file_pages
from api.v1 import render
from api.v1.files import cursor, rendered
from api.v1.models import FileList
from domain.access import Scope
from domain.states import OBJECT_STORAGE, TAPE
from nearline.settings import Settings
from projections import tables as t
from projections.db import make_engine
from projections.migrate import upgrade
from projections.queries.files import find_files
from projections.queries.filters import HoldingSelector
from tests.unit.api.recording import RecordingLog

DATABASE = "nearline_test_find_lines"
STORE = "http://127.0.0.1:9000/"
ODD_STORE = 'http://[::1]:9000/a "store"\\with\tescapes/é/'  # escaped inside the URL's string
ODD_ALGORITHM = 'MD5 "odd"\\'  # neither of the two written as constants (D227)
ODD_KIND = 'DISK\t"x"'
T0 = 1_700_000_000_000
PACK = "7/t-7/pack=" + "ab" * 32

ODD_PATHS = [
    b"/d/plain.nc",
    os.fsencode("/d/surrogate-\udcff\udcfe.nc"),  # a Python client's undecodable bytes
    b"/d/bad-\xff\xfe\x80.nc",
    b"\xed\xa0\x80/encoded-surrogate",
    b"\xf0\x9f\x98/cut-short",
    b"/d/" + b"\xc3\xa9\xff" * 40,  # base64 longer than a line of 76
    b'/d/quote"s and \\back\\slashes',
    b"/d/new\nline\ttab\rcr\x01\x1f\x7f",
    "/d/données/漢字/𝄞 emoji 😀.nc".encode(),
    "/d/\u2028separator".encode(),
]
KEYS = [
    "7/t-7/plain",
    "7/t-7/a b+c=d&e%f?g#h",
    "7/t-7/é漢😀~_.-/x",
    "",
    f"{PACK}#0+1",
    f"{PACK}#1048576+9",
    f"{PACK}#01+9",  # not a slice: a leading zero
    'weird"key\\with\nnewline',
]


def fill(engine: Engine) -> None:
    holdings = [
        (7, "alice", "climate", 'run "7"\n\té'),
        (8, "alice", "ocean", "alice's other group"),
        (9, "bob", "climate", "bob's"),
        (10, "alice", "climate", "deleted"),
    ]
    files: list[dict[str, object]] = []
    checksums: list[dict[str, object]] = []
    locations: list[dict[str, object]] = []
    file_id = 0
    for holding, *_ in holdings:
        for number, path in enumerate(ODD_PATHS + [f"/e/{k}".encode() for k in range(12)]):
            file_id += 1
            link = number % 3 == 1
            files.append({
                "id": file_id, "holding_id": holding,
                "transaction_id": "t-missing" if number % 5 == 4 else f"t-{holding}",
                "path": path,
                "path_type": "LINK" if link else "DIRECTORY" if number % 7 == 6 else "FILE",
                "link_path": (b"/target/\xff" + path) if link else None,
                "size": 2**40 + number, "mode": 0o100644, "uid": 1000 + number, "gid": 0,
                "mtime_ns": T0 * 1_000_000 + number,
                "state": "DELETED" if number == 11 else "CATALOGED",
                "created_at": -1_500 - number,
            })  # fmt: skip
            algorithms = [
                ["ADLER32", "SHA256"], ["SHA256"], [], ["ADLER32"], ["SHA256", ODD_ALGORITHM]
            ][number % 5]  # fmt: skip
            for algorithm in algorithms:
                checksums.append(
                    {"file_id": file_id, "algorithm": algorithm, "value": f"{algorithm}:{number}"}
                )
            kinds = [
                [OBJECT_STORAGE, TAPE], [OBJECT_STORAGE], [], [TAPE], [TAPE], [ODD_KIND, TAPE]
            ][number % 6]  # fmt: skip
            for kind in kinds:
                key = KEYS[number % len(KEYS)]
                locations.append({
                    "file_id": file_id, "storage_type": kind,
                    "root": "cache bucket/é" if number % 2 else "nearline-cache",
                    "path": key, "access_time": T0 + number * 1001 - (10**12 if number == 3 else 0),
                })  # fmt: skip
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE holdings, transactions, files CASCADE"))
        conn.execute(
            insert(t.holdings),
            [
                {"id": h, "user": u, "group": g, "label": label, "transaction_id": f"t-{h}",
                 "created_at": T0, "deleted": h == 10}
                for h, u, g, label in holdings
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.transactions),
            [
                {"transaction_id": f"t-{h}", "holding_id": h, "user": u, "group": g,
                 "api_action": "put", "job_label": "j", "ingest_time": T0 + h * 123}
                for h, u, g, _label in holdings
            ],
        )  # fmt: skip
        conn.execute(insert(t.files), files)
        conn.execute(insert(t.checksums), checksums)
        conn.execute(insert(t.locations), locations)


@pytest.fixture(scope="module")
def engine(catalog_url: str) -> Iterator[Engine]:
    admin = create_engine(catalog_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    url = make_url(catalog_url).set(database=DATABASE).render_as_string(False)
    engine = make_engine(url)
    upgrade(engine)
    fill(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
    admin.dispose()


SCOPES = [
    Scope("alice"),
    Scope("alice", "climate"),
    Scope("alice", "climate", groupall=True),
    Scope("bob"),
    Scope("nobody"),
]


@pytest.mark.parametrize("store", [STORE, ODD_STORE], ids=["store", "odd store"])
@pytest.mark.parametrize("scope", SCOPES, ids=str)
def test_the_database_writes_the_lines_python_writes(engine, scope, store):
    selector = HoldingSelector()
    listing = Listing(scope, selector)
    pages = file_lines(engine, listing, store, Sizes(page=7, first_page=3))
    written = b"".join(p.text for p in pages)
    python = b"".join(p.text for p in rendered(file_pages(engine, listing), store))
    assert written == python
    with engine.connect() as conn:
        found = find_files(conn, scope, selector)
    models = [render.found_file(f, store).model_dump_json().encode() + b"\n" for f in found]
    assert written == b"".join(models)
    if scope.user != "nobody":
        assert len(found) > 20


def test_every_odd_case_is_in_the_listing(engine):
    pages = file_lines(engine, Listing(Scope("alice"), HoldingSelector()), STORE)
    lines = b"".join(p.text for p in pages)
    files = [json.loads(line) for line in lines.splitlines()]
    paths = {(f["holding_id"], f["path_b64"] or f["path"]) for f in files}
    assert len(paths) == len(files) == 2 * (len(ODD_PATHS) + 11)  # holdings 7 and 8
    assert any(f["path_b64"] and len(f["path_b64"]) > 76 for f in files)
    urls = [c["url"] for f in files for c in f["locations"] if c["url"]]
    assert any("%20" in u and "%C3%A9" in u for u in urls)
    assert any(u.endswith("#bytes=1048576-1048584") for u in urls)
    assert any("%2301%2B9" in u for u in urls)  # no slice: its # is quoted
    times = [c["access_time"] for f in files for c in f["locations"]]
    assert any(x.startswith("1992-") for x in times) and any(x.endswith(".001000Z") for x in times)
    assert any(f["ingest_time"] == "1969-12-31T23:59:58.496000Z" for f in files)
    assert {len(f["checksums"]) for f in files} == {0, 1, 2}
    assert {len(f["locations"]) for f in files} == {0, 1, 2}
    # Values other than those written as constants still go out as they are, escaped.
    assert any(ODD_ALGORITHM in f["checksums"] for f in files)
    assert any(
        c["storage_type"] == ODD_KIND and c["url"] is None for f in files for c in f["locations"]
    )
    assert {f["path_type"] for f in files} == {"FILE", "DIRECTORY", "LINK"}


def test_pages_and_their_order_are_the_rows(engine):
    scope, selector = Scope("alice"), HoldingSelector()
    for descending in (False, True):
        listing = Listing(scope, selector, descending=descending)
        rows = file_pages(engine, listing, Sizes(page=3, first_page=2))
        lines = file_lines(engine, listing, STORE, Sizes(page=3, first_page=2))
        for row_page, line_page in zip(rows, lines, strict=True):
            assert (line_page.count, line_page.last) == (row_page.count, row_page.last)
            assert line_page.text == next(rendered(iter([row_page]), STORE)).text
    limited = list(file_lines(engine, Listing(scope, selector), STORE, Sizes(5, 2, 2)))
    assert [p.count for p in limited] == [2, 2, 1]
    found = list(file_lines(engine, Listing(scope, selector, regex="données|漢字"), STORE))
    assert sum(p.count for p in found) == 2


def test_pages_give_every_file_once_in_order_across_holdings_and_within_one(engine):
    """Each page starts after the last file of the one before: in the rest of its holding,
    then in the holdings after it (D236), whether the holding is fixed or not."""
    scope = Scope("alice")
    for selector in (HoldingSelector(), HoldingSelector(holding_id=8)):
        for descending in (False, True):
            with engine.connect() as conn:
                whole = find_files(conn, scope, selector, descending=descending)
            expected = [(f.holding_id, f.path) for f in whole]
            assert len({h for h, _ in expected}) == (2 if selector.holding_id is None else 1)
            listing = Listing(scope, selector, descending=descending)
            for first_page, page in ((2, 3), (1, 1), (5, 17)):
                pages = file_pages(engine, listing, Sizes(page=page, first_page=first_page))
                got = [(f.holding_id, f.path) for p in pages for f in p.files]
                assert got == expected, (selector, descending, page)
                lines = file_lines(engine, listing, STORE, Sizes(page=page, first_page=first_page))
                assert sum(p.count for p in lines) == len(expected)


def test_a_page_is_never_jit_compiled(engine):
    """PostgreSQL compiles a page's query (70-200 ms, more than the page) whenever it
    estimates many rows (D228): every page turns JIT off for itself, and only for itself."""
    with engine.connect() as conn:
        if conn.execute(text("SHOW jit")).scalar() != "on":
            pytest.skip("this server never compiles queries")
    seen: list[str] = []

    def look(conn, cursor, statement, parameters, context, executemany):
        if "string_agg" in statement:
            seen.append(cursor.connection.execute("SHOW jit").fetchone()[0])

    event.listen(engine, "before_cursor_execute", look)
    try:
        pages = list(
            file_lines(
                engine,
                Listing(Scope("alice"), HoldingSelector()),
                STORE,
                Sizes(page=7, first_page=3),
            )
        )
    finally:
        event.remove(engine, "before_cursor_execute", look)
    assert len(pages) > 3 and len(seen) >= len(pages)
    assert set(seen) == {"off"}
    with engine.connect() as conn:
        assert conn.execute(text("SHOW jit")).scalar() == "on"


def test_the_api_on_postgresql_sends_what_its_models_write(engine, tmp_path):
    secret = "find-lines-secret-long-enough-for-hs256"
    api_settings = Settings(
        home=tmp_path,
        catalog={"url": engine.url.render_as_string(False)},
        s3={"endpoint_url": STORE},
        auth={"local": {"token_secret": secret, "users_file": tmp_path / "users.toml"}},
        api={"read_your_writes_s": 0},
    )
    add_user(tmp_path / "users.toml", "alice", "a password of alice's", ["climate"])
    tokens = LocalTokens(
        api_settings.auth.local,
        Directory(tmp_path / "users.toml"),
        secret.encode(),
        MemoryFamilies(),
    )
    alice = {"Authorization": f"Bearer {tokens.issue('alice', ('climate',))['access_token']}"}
    with TestClient(create_app(api_settings, request_log=RecordingLog)) as client:
        stream = client.get("/api/v1/files", headers={**alice, "accept": "application/x-ndjson"})
        page = client.get("/api/v1/files", params={"limit": 4}, headers=alice)
    with engine.connect() as conn:
        found = find_files(conn, Scope("alice"), HoldingSelector())
    models = [render.found_file(f, STORE) for f in found]
    assert stream.content == b"".join(m.model_dump_json().encode() + b"\n" for m in models)
    assert (
        page.content == FileList(files=models[:4], next=cursor(found[3])).model_dump_json().encode()
    )
