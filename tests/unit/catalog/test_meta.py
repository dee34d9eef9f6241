"""META as the decider decides it: one's own holdings only, labels unique per user."""

from __future__ import annotations

from events.catalog import (
    HoldingRelabeled,
    HoldingTagsChanged,
    TransactionFinished,
    TransactionRejected,
)
from tests.unit.catalog.stories import meta, stored
from tests.unit.catalog.test_decider import entry, new_decider, of_type


def test_relabel_frees_the_old_label_and_tags_change():
    decider = new_decider()
    holding = stored(decider, "t1", "run", [entry(b"/d/a")])
    out = decider.handle(
        meta("m1", label="run", new_label="final", add_tags={"v": "2"}, remove_tags=["project"])
    )
    [relabeled] = of_type(out, HoldingRelabeled)
    assert (relabeled.holding_id, relabeled.old_label, relabeled.label) == (holding, "run", "final")
    assert of_type(out, HoldingTagsChanged)[0].tags == {"v": "2"}
    assert of_type(out, TransactionFinished)[0].state == "COMPLETE"
    assert decider.state.labels == {("alice", "final"): holding}
    assert decider.state.holdings[holding].tags == {"v": "2"}
    # Redelivered: nothing new.
    assert decider.handle(meta("m1", label="run", new_label="final")) == []


def test_tags_change_on_every_selected_holding():
    decider = new_decider()
    a = stored(decider, "t1", "a", [entry(b"/a")])
    b = stored(decider, "t2", "b", [entry(b"/b")])
    out = decider.handle(meta("m1", tags={"project": "x"}, add_tags={"project": "y"}))
    assert sorted(c.holding_id for c in of_type(out, HoldingTagsChanged)) == [a, b]


def test_refusals_say_why():
    decider = new_decider()
    a = stored(decider, "t1", "a", [entry(b"/a")])
    stored(decider, "t2", "b", [entry(b"/b")])
    stored(decider, "t3", "c", [entry(b"/c")], user="carol")
    for request, words in [
        (meta("m1", label="a", new_label="b"), "is taken by your holding"),
        (meta("m2", tags={"project": "x"}, new_label="z"), "2 holdings match"),
        (meta("m3", label="c", new_label="mine"), "No holding of yours"),
        (meta("m4", holding_id=a, user="carol", new_label="mine"), "No holding of yours"),
        (meta("m5", new_label="z"), "Select the holding"),
        (meta("m6", label="a"), "Nothing to change"),
    ]:
        out = decider.handle(request)
        [rejected] = of_type(out, TransactionRejected)
        assert words in rejected.reason, rejected.reason
        assert not of_type(out, HoldingRelabeled)
    assert decider.state.holdings[a].label == "a"
    assert decider.state.labels[("carol", "c")]
