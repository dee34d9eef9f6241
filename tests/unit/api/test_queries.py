"""The queries and the one authorisation rule they share, called directly on a
connection: nothing of another user's is ever returned, groupall reads the group."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.auth import Identity
from api.queries.holdings import list_holdings
from api.queries.transactions import StatFilter, find_transactions
from domain.access import NotAMember, Scope
from domain.queries import InvalidQuery
from domain.states import State, parse_state
from projections import tables as t
from projections.queries.access import changeable, visible
from projections.queries.files import find_files
from projections.queries.filters import HoldingSelector, parse_tags
from projections.queries.reader import catalog_reader
from tests.unit.api.story import GROUPS


@pytest.fixture
def conn(settings):
    engine = catalog_reader(settings)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


SCOPES = [
    Scope(user, group, groupall)
    for user, groups in GROUPS.items()
    for group in (None, *groups)
    for groupall in (False, True)
    if group is not None or not groupall
]


@pytest.mark.parametrize("scope", SCOPES, ids=str)
def test_every_query_returns_only_what_the_scope_may_read(conn, scope):
    def allowed(user: str, group: str) -> bool:
        if scope.groupall:
            return group == scope.group
        return user == scope.user and scope.group in (None, group)

    holdings = list_holdings(conn, scope, HoldingSelector())
    files = find_files(conn, scope, HoldingSelector(), regex=".")
    transactions = find_transactions(conn, scope, StatFilter())
    assert holdings and all(allowed(h.user, h.group) for h in holdings)
    assert all(allowed(f.user, f.group) for f in files)
    assert all(allowed(x.user, x.group) for x in transactions)
    # And everything allowed is there: the rule is the whole rule.
    every = conn.execute(select(t.holdings.c.user, t.holdings.c.group)).all()
    assert len(holdings) == sum(allowed(u, g) for u, g in every)


def test_writes_are_never_widened_by_groupall(conn):
    wide = Scope("alice", "climate", groupall=True)
    owners = conn.execute(select(t.holdings.c.user).where(changeable(wide, t.holdings))).scalars()
    assert set(owners) == {"alice"}
    readers = conn.execute(select(t.holdings.c.user).where(visible(wide, t.holdings))).scalars()
    assert set(readers) == {"alice", "bob"}


def test_a_scope_names_only_the_callers_groups():
    alice = Identity("alice", ("climate", "ocean"))
    assert Scope.of(alice, None, groupall=True) == Scope("alice", "climate", True)
    assert Scope.of(alice, "ocean") == Scope("alice", "ocean", False)
    with pytest.raises(NotAMember, match="not a member of the group ice"):
        Scope.of(alice, "ice")
    with pytest.raises(NotAMember):
        Scope.of(Identity("nobody", ()), None, groupall=True)


def test_find_orders_by_holding_and_path_and_honours_limit_and_descending(conn):
    scope = Scope("alice", "climate", groupall=True)
    paths = [f.path for f in find_files(conn, scope, HoldingSelector(), regex=r"\.nc$")]
    assert paths == [
        b"/data/run/a.nc",
        b"/data/run/b.nc",
        b"/data/run/c.nc",
        b"/data/run/d.nc",
        b"/data/bob/run/a.nc",
        b"/data/bob/x.nc",
    ]
    last_two = find_files(conn, scope, HoldingSelector(), regex=r"\.nc$", limit=2, descending=True)
    assert [f.path for f in last_two] == [b"/data/bob/x.nc", b"/data/bob/run/a.nc"]


def test_find_by_exact_path_and_by_transaction(conn):
    scope = Scope("alice")
    [a] = find_files(conn, scope, HoldingSelector(), path=b"/data/run/a.nc")
    assert a.checksums["ADLER32"] == "0a0b0c0d" and a.locations[0].root == "nearline-cache"
    later = find_files(conn, scope, HoldingSelector(transaction_id="t-alice-run2"))
    # The transaction filter selects holdings, as in NLDS.
    assert {f.holding_id for f in later} == {3}


@pytest.mark.parametrize("pattern", ["(", "[a-", "a{2,1}", "\x00", "x" * 2000])
def test_unusable_regexes_are_refused_with_a_reason(conn, pattern):
    with pytest.raises(InvalidQuery):
        find_files(conn, Scope("alice"), HoldingSelector(), regex=pattern)


def test_tags_parse_in_the_nlds_query_form():
    assert parse_tags("k:v, k2:v:with:colons ,") == {"k": "v", "k2": "v:with:colons"}
    assert parse_tags("") == {}
    with pytest.raises(InvalidQuery):
        parse_tags("k")


def test_states_by_name_or_value():
    assert parse_state("complete") is State.COMPLETE
    assert parse_state("-1") is State.INITIALISING
    assert parse_state(1000) is State.SEARCHING
    for bad in ("DONE", "7", ""):
        with pytest.raises(ValueError, match="SEARCHING=1000"):
            parse_state(bad)


def test_the_reader_refuses_writes(conn):
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError):
        conn.execute(t.holdings.delete())
