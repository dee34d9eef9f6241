"""The cart processor's side of a cart of named files: found, recalled, bundled in the
client's order, and checked against the client's hashes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from events.carts import CartEntry, CartOfFilesRequested
from processors.carts.hashes import hash_mismatch
from processors.carts.named import prepare_named
from processors.carts.recall import stages_for_cart
from stores.tape.aggregate import Member
from stores.tape.cache_reading import CacheFailure


@dataclass(frozen=True)
class Copy:
    storage_type: str
    path: str = ""


@dataclass
class File:
    id: int
    path: bytes
    data: bytes
    cached: bool = True
    holding_id: int = 7
    group: str = "nl-pacifica"
    mode: int = 0o640
    mtime_ns: int = 0
    locations: list[Copy] = field(default_factory=list)
    checksums: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.locations = [Copy("TAPE", "agg")] + (
            [Copy("OBJECT_STORAGE", f"key-{self.id}")] if self.cached else []
        )
        self.checksums = {"SHA256": hashlib.sha256(self.data).hexdigest(), "ADLER32": "0"}

    @property
    def size(self) -> int:
        return len(self.data)


class Reads:
    def __init__(self, *files: File) -> None:
        self.files = {f.path: f for f in files}

    def named_cart_files(self, request: CartOfFilesRequested) -> dict[bytes, File]:
        return {e["path"]: self.files[e["path"]] for e in request.files if e["path"] in self.files}


class Cache:
    """The S3 cache's contents by object key; records what was read."""

    def __init__(self, files: Sequence[File], fail: Exception | None = None) -> None:
        self.data = {f"key-{f.id}": f.data for f in files}
        self.read: list[str] = []
        self.fail = fail

    def contents(self, files: Sequence[Member]) -> Iterator[list[bytes] | str]:
        for m in files:
            if self.fail is not None:
                raise self.fail
            self.read.append(m.object_key)
            data = self.data.get(m.object_key)
            yield "not in the store" if data is None else [data[:3], data[3:]]


def entry(file: File, member: str, hashtype: str = "sha1", data: bytes | None = None) -> CartEntry:
    digest = hashlib.new(hashtype, file.data if data is None else data).hexdigest()
    return CartEntry(path=file.path, member=member.encode(), hashtype=hashtype, hashsum=digest)


def request(*entries: CartEntry, user: str = "nl-pacifica") -> CartOfFilesRequested:
    return CartOfFilesRequested(
        event_id="e",
        transaction_id="cart-1",
        user=user,
        group="nl-pacifica",
        cause_id=None,
        occurred_at=0,
        cart_id="cart-1",
        client_uid="uid",
        owner="nl-pacifica",
        label="pacifica-default",
        files=list(entries),
        bundle=False,
        max_files=100,
    )


A = File(1, b"/101", b"first file")
B = File(2, b"/102", b"second file")


def test_files_are_bundled_in_the_clients_order_with_their_checks():
    cart = request(entry(B, "z/b"), entry(A, "a"), entry(B, "again/b", "md5"))
    prepared = prepare_named(Reads(A, B), cart)
    assert [s.state for s in prepared.states] == ["staging", "bundling"]
    assert prepared.states[1].file_ids == [2, 1, 2]
    assert prepared.states[1].total_size == 2 * B.size + A.size
    assert [(e["member"], m.file_id, m.object_key) for e, m in prepared.to_check] == [
        (b"z/b", 2, "key-2"),
        (b"a", 1, "key-1"),
        (b"again/b", 2, "key-2"),
    ]


def test_an_id_not_in_the_archive_fails_the_cart_naming_it():
    missing = CartEntry(path=b"/999", member=b"m", hashtype="sha1", hashsum="0" * 40)
    prepared = prepare_named(
        Reads(A), request(entry(A, "a"), missing, {**missing, "path": b"/998"})
    )
    assert [s.state for s in prepared.states] == ["staging", "error"]
    assert prepared.states[-1].message == "File id 999 is not in the archive (and 1 more)."


def test_files_only_on_tape_are_recalled_first_each_once_in_its_holdings_group():
    on_tape = File(3, b"/103", b"on tape", cached=False, holding_id=9, group="g-owner")
    cart = request(entry(on_tape, "t1"), entry(on_tape, "t2"), entry(A, "a"), user="nl-other")
    prepared = prepare_named(Reads(A, on_tape), cart)
    assert [s.state for s in prepared.states] == ["staging"]
    assert [f.id for f in prepared.on_tape] == [3]
    [stage] = stages_for_cart(cart, prepared.on_tape)
    assert (stage.paths, stage.holding_id, stage.group, stage.groupall) == (
        [b"/103"],
        9,
        "g-owner",
        True,
    )
    failed = prepare_named(Reads(A, on_tape), cart, recalled="only on tape: it expired")
    assert [s.state for s in failed.states] == ["staging", "error"]
    assert failed.states[-1].message == "only on tape: it expired"


def test_matching_hashes_pass_and_a_sha256_is_taken_from_the_catalog_unread():
    cache = Cache([A, B])
    cart = request(entry(A, "a", "sha256"), entry(B, "b", "sha1"), entry(A, "a2", "blake2b"))
    assert hash_mismatch(cache, prepare_named(Reads(A, B), cart).to_check) is None
    assert cache.read == ["key-2", "key-1"]  # the sha1 and the blake2b, not the sha256


def test_a_mismatch_names_the_file_and_its_hashtype():
    for hashtype in ("sha1", "sha256", "md5"):
        cart = request(entry(A, "a", hashtype), entry(B, "b", hashtype, data=b"other"))
        message = hash_mismatch(Cache([A, B]), prepare_named(Reads(A, B), cart).to_check)
        assert message is not None and "File id 102 " in message and hashtype in message


def test_a_cache_that_cannot_be_read_fails_the_cart_with_the_reason():
    cart = request(entry(A, "a"))
    to_check = prepare_named(Reads(A), cart).to_check
    gone = Cache([])
    assert (
        hash_mismatch(gone, to_check)
        == "File id 101 cannot be read from the cache: not in the store."
    )
    down = Cache([A], fail=CacheFailure("the store is unreachable", True))
    message = hash_mismatch(down, to_check)
    assert message is not None and "the store is unreachable" in message
