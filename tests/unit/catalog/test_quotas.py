"""Quotas: a PUT over a quota is refused before any transfer, naming the quota, the use
and the limit; group and tape use come from the projection (a fake here)."""

from __future__ import annotations

from events.catalog import FilesReserved, TransactionRejected
from events.work import TransferPutRequested
from nearline.settings import Quota, QuotaSettings
from processors.catalog.decider import Decider
from processors.catalog.quotas import Quotas
from processors.catalog.state import CatalogState
from tests.unit.catalog.stories import delete, objects_deleted, stored
from tests.unit.catalog.test_decider import entry, indexed, of_type, put


class FakeUsage:
    def __init__(self, group_cache: int = 0, user_tape: int = 0, group_tape: int = 0) -> None:
        self.group_cache, self.user_tape, self.group_tape = group_cache, user_tape, group_tape

    def group_cache_bytes(self, group: str) -> int:
        return self.group_cache

    def user_tape_bytes(self, user: str) -> int:
        return self.user_tape

    def group_tape_bytes(self, group: str) -> int:
        return self.group_tape


def decider_with(quotas: QuotaSettings, usage: FakeUsage | None = None) -> Decider:
    return Decider(CatalogState(2, 6), clock=lambda: 7, quotas=Quotas(quotas, usage or FakeUsage()))


def test_a_sub_batch_over_the_users_cache_quota_is_refused_whole():
    decider = decider_with(QuotaSettings(users={"alice": Quota(cache_bytes=25)}))
    holding = stored(decider, "t1", "run", [entry(b"/a", size=10)])
    decider.handle(put("t2", label="run"))
    out = decider.handle(indexed("t2", 0, [entry(b"/b", size=10), entry(b"/c", size=10)], True, 3))
    [reserved] = of_type(out, FilesReserved)
    assert reserved.files == [] and len(reserved.refused) == 2
    reason = reserved.refused[0]["reason"]
    assert "cache quota of user alice is 25 bytes" in reason and "10 bytes are in use" in reason
    assert "adds 20 bytes" in reason
    assert not of_type(out, TransferPutRequested)
    # One that fits goes on; then, at the limit, directories (no bytes) still do.
    decider.handle(put("t3", label="run"))
    out = decider.handle(indexed("t3", 0, [entry(b"/b", size=15)], False, holding))
    assert of_type(out, TransferPutRequested)
    out = decider.handle(indexed("t3", 1, [entry(b"/e", "DIRECTORY", 0)], True, holding))
    assert of_type(out, FilesReserved)[0].refused == []


def test_a_put_at_the_limit_is_refused_up_front_and_a_delete_makes_room():
    decider = decider_with(QuotaSettings(users={"alice": Quota(cache_bytes=10)}))
    holding = stored(decider, "t1", "run", [entry(b"/a", size=10)])
    [rejected] = of_type(decider.handle(put("t2", label="run")), TransactionRejected)
    assert "nothing more fits" in rejected.reason
    decider.handle(delete("x1", [b"/a"]))
    decider.handle(objects_deleted("x1", 0, holding, []))
    assert not of_type(decider.handle(put("t3", label="run")), TransactionRejected)


def test_group_and_tape_quotas_use_the_projection():
    group = QuotaSettings(groups={"climate": Quota(cache_bytes=100)})
    decider = decider_with(group, FakeUsage(group_cache=95))
    decider.handle(put("t1", label="run"))
    out = decider.handle(indexed("t1", 0, [entry(b"/a", size=10)], True, 3))
    assert (
        "cache quota of group climate is 100 bytes and 95 bytes"
        in (of_type(out, FilesReserved)[0].refused[0]["reason"])
    )
    tape = QuotaSettings(users={"alice": Quota(tape_bytes=50)})
    decider = decider_with(tape, FakeUsage(user_tape=50))
    [rejected] = of_type(decider.handle(put("t1", label="run")), TransactionRejected)
    assert "tape quota of user alice is 50 bytes" in rejected.reason


def test_without_quotas_nothing_is_read():
    class Unreadable(FakeUsage):
        def group_cache_bytes(self, group: str) -> int:
            raise AssertionError("read without a group quota")

    decider = decider_with(QuotaSettings(), Unreadable())
    decider.handle(put("t1", label="run"))
    out = decider.handle(indexed("t1", 0, [entry(b"/a", size=10**12)], True, 3))
    assert of_type(out, TransferPutRequested)
