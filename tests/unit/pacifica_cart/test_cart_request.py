"""cartd's POST body, checked before anything is recorded: ids, tar paths and hashes."""

from __future__ import annotations

import hashlib

import pytest

from api.errors import ApiError
from api.pacifica.cart_download import download_name, member_folder
from api.pacifica.cart_request import CartBody, cart_entries, checked_uid

SHA1 = hashlib.sha1(b"x").hexdigest()


def body(*entries: dict) -> CartBody:
    return CartBody.model_validate({"fileids": list(entries)})


def entry(path: str = "a/b.txt", file_id: object = 17, hashtype: str = "sha1", hashsum: str = SHA1):
    return {"id": file_id, "path": path, "hashtype": hashtype, "hashsum": hashsum}


def test_an_entry_is_the_id_path_in_the_namespace_and_its_name_without_one_leading_slash():
    [got] = cart_entries(body(entry("/a/b.txt", 17, "SHA1", SHA1.upper())), 10)
    assert got == {"path": b"/17", "member": b"a/b.txt", "hashtype": "sha1", "hashsum": SHA1}
    [named] = cart_entries(body(entry("\u00e9/x", "file-1.nc")), 10)
    assert (named["path"], named["member"]) == (b"/file-1.nc", "\u00e9/x".encode())


@pytest.mark.parametrize(
    "path",
    ["", "/", "../x", "a/../../x", "a/./b", "a//b", "a/", "//etc/passwd", "a\0b", "x" * 4097],
)
def test_a_path_that_would_not_extract_where_it_says_is_refused(path):
    with pytest.raises(ApiError) as refused:
        cart_entries(body(entry(path)), 10)
    assert refused.value.status == 400 and refused.value.loc[-1] == "path"


@pytest.mark.parametrize("file_id", ["../etc/passwd", ".hidden", "a/b", "", "x" * 129])
def test_an_id_that_is_not_a_plain_name_is_refused(file_id):
    with pytest.raises(ApiError) as refused:
        cart_entries(body(entry(file_id=file_id)), 10)
    assert refused.value.loc[-1] == "id"


@pytest.mark.parametrize(
    ("hashtype", "hashsum"),
    [("crc32", SHA1), ("shake_128", "00"), ("sha1", SHA1[:-1]), ("sha1", "g" * 40), ("md5", SHA1)],
)
def test_a_hash_that_cannot_be_checked_is_refused(hashtype, hashsum):
    with pytest.raises(ApiError) as refused:
        cart_entries(body(entry(hashtype=hashtype, hashsum=hashsum)), 10)
    assert refused.value.loc[-1] in ("hashtype", "hashsum")


def test_two_files_of_one_name_no_file_and_too_many_are_refused():
    with pytest.raises(ApiError, match="Two files"):
        cart_entries(body(entry("same", 1), entry("/same", 2)), 10)
    with pytest.raises(ApiError, match="no file"):
        cart_entries(body(), 10)
    with pytest.raises(ApiError) as too_many:
        cart_entries(body(*(entry(f"f{n}", n) for n in range(3))), 2)
    assert too_many.value.status == 413


def test_the_same_file_may_be_named_twice():
    got = cart_entries(body(entry("one", 5), entry("two", 5)), 10)
    assert [e["path"] for e in got] == [b"/5", b"/5"]


@pytest.mark.parametrize("uid", ["", "a b", "../x", ".x", "x" * 129, "a/b"])
def test_a_uid_is_a_plain_name(uid):
    with pytest.raises(ApiError):
        checked_uid(uid)
    assert checked_uid("0b5cbd0e-8f4e-4b5c-9d39-6f3f3b4f7d2e")


def test_download_names_and_the_folder_the_members_sit_in():
    assert download_name("my cart/../x.tar") == "my_cart_.._x.tar"
    assert download_name(None).startswith("data_") and download_name(None).endswith(".tar")
    assert member_folder("my_cart.tar", "uid", bundled=False) == "my_cart"
    assert member_folder("data", "uid", bundled=False) == "data"
    assert member_folder("whatever.tar", "uid", bundled=True) == "uid"
    for climbing in ("..tar", "...tar", ".tar", ".."):
        assert member_folder(climbing, "uid", bundled=False) == "data"
