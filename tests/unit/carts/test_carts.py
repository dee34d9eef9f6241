"""Carts without Kafka: the processor's decisions over the unit story's catalog, and the
projection of cart events (states only move forward; deletion and purges are final)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from events.base import event_id_for
from events.carts import CartDeleteRequested, CartDownloaded, CartRequested, CartStateChanged
from nearline.settings import Settings
from processors.carts.prepare import prepare, purge
from processors.carts.recall import stages_for_cart
from processors.carts.wiring import ProjectionReads
from projections import carts, catalog
from projections import tables as t
from projections.db import make_engine
from projections.migrate import upgrade
from projections.queries.reader import catalog_reader
from tests.unit.api import story


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """The story's catalog, written as the projection writes it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    upgrade(engine)
    story.fill(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def reader(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """The catalog as the cart processor reads it."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    reader = catalog_reader(Settings(home=tmp_path, catalog={"url": url}))
    yield reader
    reader.dispose()


def request(
    cart_id: str = "c1", user: str = "alice", max_files: int = 100, **filters
) -> CartRequested:
    selection = {
        "paths": [],
        "regex": None,
        "label": None,
        "holding_id": None,
        "tags": {},
        "groupall": False,
    } | filters
    return CartRequested(
        event_id=event_id_for(cart_id, "cart", "requested"),
        transaction_id=cart_id,
        user=user,
        group=story.GROUPS[user][0],
        cause_id=None,
        occurred_at=story.T0 + 10_000,
        cart_id=cart_id,
        max_files=max_files,
        **selection,
    )


def decide(reader: Engine, cart: CartRequested) -> list[CartStateChanged]:
    return prepare(ProjectionReads(reader), cart).states


def test_cached_files_make_a_ready_cart_in_path_order(reader):
    cart = request(label="run", regex=r"\.nc$")
    decided = decide(reader, cart)
    assert [d.state for d in decided] == ["staging", "bundling", "ready"]
    with reader.connect() as conn:
        paths = dict(conn.execute(select(t.files.c.id, t.files.c.path)).all())
    bundled = decided[1]
    assert [paths[i] for i in bundled.file_ids] == [
        b"/data/run/a.nc",
        b"/data/run/b.nc",
        b"/data/run/c.nc",
        b"/data/run/d.nc",
    ]
    assert bundled.total_size == 100 + 200 + 10 + 10
    # decided again (a redelivered request): the same facts, the same ids
    assert [d.event_id for d in decide(reader, cart)] == [d.event_id for d in decided]


def test_only_regular_files_and_only_the_owners(reader):
    decided = decide(reader, request(label="obs"))  # bob's label: alice has none such
    assert decided[-1].state == "error" and "No file matches" in decided[-1].message
    bobs = decide(reader, request("c2", "bob", label="obs"))
    assert bobs[-1].state == "ready" and len(bobs[1].file_ids) == 2


def test_too_many_files_is_an_error_that_says_how_to_narrow_it(reader):
    decided = decide(reader, request(label="run", max_files=2))
    assert decided[-1].state == "error" and "narrow it" in decided[-1].message


def test_a_bad_regex_is_an_error_not_a_crash(reader):
    decided = decide(reader, request(regex="("))
    assert decided[-1].state == "error" and decided[-1].message


def test_files_only_on_tape_are_staged_first_then_the_cart_fails_if_they_stay_there(engine, reader):
    with engine.begin() as conn:  # a.nc leaves the cache
        a = conn.execute(select(t.files.c.id).where(t.files.c.path == b"/data/run/a.nc")).scalar()
        conn.execute(t.locations.delete().where(t.locations.c.file_id == a))
    cart = request(label="run")
    prepared = prepare(ProjectionReads(reader), cart)
    assert [d.state for d in prepared.states] == ["staging"]
    assert [f.path for f in prepared.on_tape] == [b"/data/run/a.nc"]
    [stage] = stages_for_cart(cart, prepared.on_tape)
    assert (stage.user, stage.paths, stage.regex) == (cart.user, [b"/data/run/a.nc"], None)
    assert stage.holding_id == prepared.on_tape[0].holding_id
    assert stages_for_cart(cart, prepared.on_tape)[0].transaction_id == stage.transaction_id
    # Prepared again after the recall, files still only on tape fail the cart with why.
    again = prepare(
        ProjectionReads(reader), cart, recalled="only on tape: a.nc could not be recalled: x"
    )
    assert again.states[-1].state == "error" and "could not be recalled" in again.states[-1].message


def apply(engine: Engine, *events) -> None:
    with engine.begin() as conn:
        carts.apply(conn, list(events))
        catalog.apply(conn, list(events), story.BUCKET)


def cart_row(engine: Engine, cart_id: str):
    with engine.connect() as conn:
        return conn.execute(select(t.carts).where(t.carts.c.cart_id == cart_id)).first()


def test_the_projection_moves_forward_only_and_deletion_is_final(engine, reader):
    cart = request(label="run")
    staging, bundling, ready = decide(reader, cart)
    apply(engine, cart, staging, bundling, ready)
    row = cart_row(engine, "c1")
    assert (row.state, row.file_count) == ("ready", len(bundling.file_ids))
    apply(engine, staging)  # redelivered: no step back
    assert cart_row(engine, "c1").state == "ready"
    apply(engine, CartDownloaded(**_envelope(cart, "downloaded", 5), cart_id="c1"))
    assert cart_row(engine, "c1").last_access == story.T0 + 5
    apply(engine, CartDeleteRequested(**_envelope(cart, "delete", 6), cart_id="c1"))
    apply(engine, ready)  # a late fact does not revive it
    assert cart_row(engine, "c1").state == "deleted"
    with engine.connect() as conn:
        assert conn.execute(select(t.cart_files)).all() == []


def test_least_recently_used_finished_carts_are_purged_never_those_in_progress(engine, reader):
    # old0 and old2 ready, old1 in error, old3 still staging
    for n in range(4):
        cart = request(f"old{n}", label="run")
        staging, bundling, ready = decide(reader, cart)
        apply(engine, cart, staging)
        if n in (0, 2):
            apply(engine, bundling, ready)
        if n == 1:
            failed = CartStateChanged(
                **_envelope(cart, "failed", 1),
                cart_id=cart.cart_id,
                state="error",
                message="x",
                file_ids=[],
                total_size=0,
            )
            apply(engine, failed)
    # old0 was downloaded after every state change: it is the most recently used
    later = int(time.time() * 1000) + 60_000 - story.T0
    apply(engine, CartDownloaded(**_envelope(request("old0"), "dl", later), cart_id="old0"))
    purged = purge(ProjectionReads(reader), request("new", label="run"), keep=2)
    # two kept, counting the new cart: old0 stays, old1 and old2 go, old3 is in progress
    assert sorted(p.cart_id for p in purged) == ["old1", "old2"]
    assert {p.state for p in purged} == {"purged"}


def _envelope(cart: CartRequested, step: str, at: int) -> dict:
    return {
        "event_id": event_id_for(cart.cart_id, step),
        "transaction_id": cart.cart_id,
        "user": cart.user,
        "group": cart.group,
        "cause_id": None,
        "occurred_at": story.T0 + at,
    }
