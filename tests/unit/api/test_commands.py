"""The command layer on its own: what each command records, and what it refuses."""

from __future__ import annotations

import pytest

from api import commands
from domain.access import Scope
from nearline.settings import Settings
from projections import catalog
from projections.db import make_engine
from projections.migrate import upgrade
from projections.queries.filters import HoldingSelector
from projections.queries.reader import catalog_reader
from tests.unit.api import story


@pytest.fixture
def twin_holdings(tmp_path):
    """alice has two holdings in climate with the same tag."""
    url = f"sqlite:///{tmp_path / 'twins.db'}"
    engine = make_engine(url)
    upgrade(engine)
    facts = story.put("t1", "alice", "climate", 3, "one", {"p": "x"}, [], story.T0)
    facts += story.put("t2", "alice", "climate", 9, "two", {"p": "x"}, [], story.T0 + 1)
    with engine.begin() as conn:
        catalog.apply(conn, facts, story.BUCKET)
    engine.dispose()
    reader = catalog_reader(Settings(home=tmp_path, catalog={"url": url}))
    with reader.connect() as conn:
        yield conn
    reader.dispose()


def test_meta_changes_tags_of_every_selected_holding_but_relabels_only_one(twin_holdings, log):
    scope = Scope("alice", "climate")
    selector = HoldingSelector(tags={"p": "x"})
    event, changes = commands.meta(log, twin_holdings, scope, selector, add_tags={"q": "y"})
    assert [c.holding.id for c in changes] == [3, 9]
    assert all(c.new_tags == {"p": "x", "q": "y"} for c in changes)
    assert event.tags == {"p": "x"} and event.add_tags == {"q": "y"}
    with pytest.raises(commands.CommandRejected, match="select one holding"):
        commands.meta(log, twin_holdings, scope, selector, new_label="same")
    assert len(log.events) == 1


def test_requests_carry_the_callers_group_and_job_label(log):
    event = commands.put(log, Scope("alice", "ocean"), ["/x"], options=commands.Options("nightly"))
    assert (event.user, event.group, event.job_label) == ("alice", "ocean", "nightly")
    default = commands.put(log, Scope("alice", "ocean"), [b"/x"])
    assert default.job_label == default.transaction_id[:8]


@pytest.mark.parametrize(
    "call",
    [
        lambda log: commands.put(log, Scope("alice", None), ["/x"]),
        lambda log: commands.put(
            log, Scope("alice", "g"), ["/x"], options=commands.Options(transaction_id="nope")
        ),
        lambda log: commands.get(log, Scope("alice", "g"), [], HoldingSelector(), target="rel"),
        lambda log: commands.get(log, Scope("alice", "g"), ["/a"], HoldingSelector(), regex="a"),
        lambda log: commands.delete(log, Scope("alice", "g"), [b"/a\0b"], HoldingSelector()),
        lambda log: commands.put(log, Scope("alice", "g"), ["/x"], label="l" * 2000),
    ],
    ids=["no group", "transaction id", "relative target", "paths and regex", "NUL", "long label"],
)
def test_what_cannot_be_recorded_is_refused_before_recording(log, call):
    with pytest.raises(commands.CommandRejected):
        call(log)
    assert not log.events
