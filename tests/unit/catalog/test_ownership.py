"""Who may write where: only a holding's owner puts into it, and a transaction id belongs
to the user who first used it (D110, D111). The attacks are a member of the owner's group
and another user of the same partition, who the decider sees with the owner's state."""

from __future__ import annotations

import dataclasses

from events.catalog import TransactionAccepted, TransactionRejected
from events.requests import GetRequested, MetaRequested
from events.status import TransactionStateChanged
from events.work import IndexRequested
from processors.catalog.decider import ID_TAKEN
from tests.unit.catalog.test_decider import (
    catalog_facts,
    entry,
    envelope,
    indexed,
    new_decider,
    of_type,
    put,
)


def test_a_group_member_cannot_put_into_the_owners_holding_by_id_or_label():
    decider = new_decider()
    holding = of_type(decider.handle(put("t1", label="run")), TransactionAccepted)[0].holding_id
    out = decider.handle(put("t2", holding_id=holding, user="carol"))
    assert not of_type(out, IndexRequested)
    assert "is not yours" in of_type(out, TransactionRejected)[0].reason
    # Her own label "run" is another holding: labels are per user.
    out = decider.handle(put("t3", label="run", user="carol"))
    assert of_type(out, TransactionAccepted)[0].holding_id != holding


def test_another_user_reusing_a_transaction_id_is_refused_and_changes_nothing_of_the_owner():
    decider = new_decider()
    decider.handle(put("t1", label="run"))
    before = decider.state.transactions["t1"]
    owner = (before.user, before.holding_id, before.finished, dict(before.reserved))

    out = decider.handle(put("t1", label="run", user="mallory", group="ocean"))
    assert not of_type(out, IndexRequested)  # nothing is indexed into alice's holding
    [rejected] = of_type(out, TransactionRejected)
    assert (rejected.user, rejected.reason) == ("mallory", ID_TAKEN)
    [status] = of_type(out, TransactionStateChanged)
    assert (status.user, status.state, status.holding_id) == ("mallory", "FAILED", None)
    after = decider.state.transactions["t1"]
    assert (after.user, after.holding_id, after.finished, dict(after.reserved)) == owner
    # The refusal's events are mallory's own: none has an id of alice's transaction.
    alices = {e.event_id for e in catalog_facts(decider.handle(put("t1", label="run")))}
    assert not alices & {o.event.event_id for o in out}


def test_a_report_of_another_user_for_a_transaction_is_refused():
    decider = new_decider()
    holding = of_type(decider.handle(put("t1", label="run")), TransactionAccepted)[0].holding_id
    report = indexed("t1", 0, [entry(b"/data/a")], True, holding)
    assert decider.refusal(report) is None
    forged = dataclasses.replace(report, user="mallory")
    assert "alice's" in (decider.refusal(forged) or "")


def test_every_kind_of_request_is_refused_under_a_taken_id():
    decider = new_decider()
    decider.handle(put("t1", label="run"))
    get = GetRequested(
        **envelope("t1", "requested", "mallory", "ocean"),
        paths=[b"/data/a"],
        regex=None,
        label=None,
        holding_id=None,
        tags={},
        target=None,
        overwrite=False,
        job_label="job",
        api_action="get",
        groupall=False,
    )
    meta = MetaRequested(
        **envelope("t1", "requested", "mallory", "ocean"),
        label="run",
        holding_id=None,
        tags={},
        new_label="mine",
        add_tags={},
        remove_tags=[],
        job_label="job",
    )
    for request in (get, meta):
        out = decider.handle(request)
        assert [type(o.event).__name__ for o in out] == [
            "TransactionRejected",
            "TransactionStateChanged",
        ]
    # The same request again (a redelivery) decides the same, with the same ids.
    assert [o.event.event_id for o in decider.handle(meta)] == [o.event.event_id for o in out]
    assert decider.state.holdings[decider.state.labels[("alice", "run")]].label == "run"
