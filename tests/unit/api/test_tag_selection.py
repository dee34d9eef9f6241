"""Tags whose keys and values hold any printable character are stored and selected: the
query form ``key:value`` (and NLDS's ``k:v,k2:v2``) escapes colons, commas, spaces and
backslashes, and nearline's own client writes it so."""

from __future__ import annotations

import pytest

from api.queries.holdings import list_holdings
from client.cli.common import parse_tags as cli_tags
from client.library.client import _query
from events.catalog import HoldingCreated
from projections import catalog
from projections.db import make_engine
from projections.migrate import upgrade
from projections.queries.access import Scope
from projections.queries.filters import HoldingSelector, parse_tag, parse_tags
from tests.unit.api.story import envelope

ODD = {"a:b": "c,d", " padded ": " x ", "back\\slash": "C:\\data\\", "k=v": "=", "ü": "日本"}


@pytest.fixture
def conn(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        for i, (key, value) in enumerate(ODD.items(), start=1):
            created = HoldingCreated(
                **envelope(f"t{i}", "holding", "alice", "climate", 1_700_000_000_000 + i),
                holding_id=i,
                label=f"h{i}",
                tags={key: value},
            )
            catalog.apply(connection, [created], "bucket")
    with engine.connect() as connection:
        yield connection
    engine.dispose()


@pytest.mark.parametrize(("key", "value"), ODD.items())
def test_every_stored_tag_is_selected_through_the_query_form(conn, key, value):
    [(_name, sent)] = _query({"tags": {key: value}})
    selector = HoldingSelector(tags=dict([parse_tag(sent)]))
    assert [h.tags for h in list_holdings(conn, Scope("alice"), selector)] == [{key: value}]


def test_the_nlds_form_splits_at_unescaped_commas_and_colons_only():
    assert parse_tags(r"a\:b:c\,d, e:f:g ,") == {"a:b": "c,d", "e": "f:g"}
    assert parse_tags(r"\ k\ :\ v") == {" k ": " v"}
    # A backslash before anything else is itself: stored Windows paths keep selecting.
    assert parse_tag(r"p:C:\data") == ("p", "C:\\data")


def test_the_cli_takes_an_escaped_equals_sign_in_a_key():
    assert cli_tags([r"k\=v==", "plain=x=y", r"end\\=z"]) == {
        "k=v": "=",
        "plain": "x=y",
        "end\\": "z",
    }
