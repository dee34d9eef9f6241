"""cartd's wire through plain HTTP against the real stack: a cart of archive-interface ids
goes staging → ready and downloads as cartd's tar; hashes are checked; unknown carts are
404; a uid is the caller's own; deleting ends a cart; bad requests record nothing."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import uuid

import httpx

from tests.integration.pacifica_cart.conftest import PREFIX, Caller, Namespace, wait_for_status

MANY = 150


def members(tar_bytes: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def new_uid() -> str:
    return str(uuid.uuid4())


def test_a_cart_becomes_ready_and_downloads_as_cartd_names_it(pacifica: Caller, archive: Namespace):
    one, two, three = archive.put([os.urandom(5000), b"bar\n", os.urandom(3 * 1024 * 1024)])
    uid = new_uid()
    fileids = [
        one.entry("a/b/foo.txt"),
        two.entry("/a/b/\u00e9/bar\u00e9.txt", "md5"),
        three.entry("big.bin", "sha256"),
    ]
    with pacifica.client() as client:
        created = client.post(f"/{uid}", json={"fileids": fileids})
        assert created.status_code == 201, created.text
        assert created.json() == {"message": "Cart Processing has begun"}

        # at once: cartd's status while in progress, nearline's own state beside it
        first = client.head(f"/{uid}")
        assert first.status_code in (204, 500)
        assert first.headers["X-Pacifica-Status"] in ("staging", "ready")
        assert first.headers["X-Nearline-Cart-State"] in ("waiting", "staging", "bundling", "ready")

        ready = wait_for_status(pacifica, uid)
        assert ready.status_code == 204
        assert (ready.headers["X-Pacifica-Status"], ready.headers["X-Pacifica-Message"]) == (
            "ready",
            "",
        )

        named = client.get(f"/{uid}", params={"filename": "my_cart.tar"})
        assert named.status_code == 200, named.text
        assert named.headers["Content-Disposition"] == "attachment; filename=my_cart.tar"
        assert members(named.content) == {
            "my_cart/a/b/foo.txt": one.data,
            "my_cart/a/b/\u00e9/bar\u00e9.txt": two.data,
            "my_cart/big.bin": three.data,
        }

        default = client.get(f"/{uid}")
        assert default.status_code == 200
        match = re.fullmatch(
            r"attachment; filename=(data_\d{4}(_\d\d){5})\.tar",
            default.headers["Content-Disposition"],
        )
        assert match, default.headers["Content-Disposition"]
        assert set(members(default.content)) == {
            f"{match.group(1)}/a/b/foo.txt",
            f"{match.group(1)}/a/b/\u00e9/bar\u00e9.txt",
            f"{match.group(1)}/big.bin",
        }

        # nearline's own cart API serves the same cart, its files named as the client did
        cart_id = ready.headers["X-Nearline-Cart-Id"]
        api = pacifica.url.removesuffix(PREFIX)
        own = httpx.get(f"{api}/api/v1/carts/{cart_id}/download", headers=pacifica.auth)
        assert own.status_code == 200, own.text
        assert members(own.content) == {
            "a/b/foo.txt": one.data,
            "a/b/\u00e9/bar\u00e9.txt": two.data,
            "big.bin": three.data,
        }

        # a name that would climb out of the folder gets cartd's default folder instead
        climbing = client.get(f"/{uid}", params={"filename": "...tar"})
        assert set(members(climbing.content)) == {
            "data/a/b/foo.txt",
            "data/a/b/\u00e9/bar\u00e9.txt",
            "data/big.bin",
        }


def test_a_cart_of_many_files_keeps_each_name(pacifica: Caller, archive: Namespace):
    files = archive.put([f"file {n}\n".encode() for n in range(MANY)])
    uid = new_uid()
    fileids = [f.entry(f"run/{n % 7}/f{n}.txt") for n, f in enumerate(files)]
    with pacifica.client() as client:
        assert client.post(f"/{uid}", json={"fileids": fileids}).status_code == 201
        assert wait_for_status(pacifica, uid).headers["X-Pacifica-Status"] == "ready"
        tar = client.get(f"/{uid}", params={"filename": "many.tar"})
    assert members(tar.content) == {
        f"many/run/{n % 7}/f{n}.txt": f"file {n}\n".encode() for n in range(MANY)
    }


def test_bundled_carts_name_their_folder_after_the_uid(pacifica: Caller, archive: Namespace):
    [one] = archive.put([b"bundled\n"])
    uid = new_uid()
    with pacifica.client() as client:
        body = {"fileids": [one.entry("x/one.txt")], "bundle": True}
        assert client.post(f"/{uid}", json=body).status_code == 201
        assert wait_for_status(pacifica, uid).headers["X-Pacifica-Status"] == "ready"
        tar = client.get(f"/{uid}", params={"filename": "whatever.tar"})
        assert members(tar.content) == {f"{uid}/x/one.txt": b"bundled\n"}


def test_a_hash_mismatch_puts_the_cart_in_error_naming_the_file(
    pacifica: Caller, archive: Namespace
):
    good, bad = archive.put([b"good\n", b"bad\n"])
    wrong_sha1 = hashlib.sha1(b"not the content").hexdigest()
    wrong_sha256 = hashlib.sha256(b"not the content").hexdigest()
    with pacifica.client() as client:
        for entry in (
            bad.entry("bad", "sha1", wrong_sha1),
            bad.entry("bad", "sha256", wrong_sha256),
        ):
            uid = new_uid()
            body = {"fileids": [good.entry("good"), entry]}
            assert client.post(f"/{uid}", json=body).status_code == 201
            failed = wait_for_status(pacifica, uid)
            assert failed.status_code == 500
            assert failed.headers["X-Pacifica-Status"] == "error"
            message = failed.headers["X-Pacifica-Message"]
            assert f"id {bad.id}" in message and entry["hashtype"] in message, message
            assert f"id {good.id}" not in message
            # never downloadable: cartd's 202, as for any cart not ready
            not_ready = client.get(f"/{uid}")
            assert (not_ready.status_code, not_ready.text) == (
                202,
                "The cart is not ready for download.",
            )


def test_an_id_not_in_the_archive_puts_the_cart_in_error(pacifica: Caller, archive: Namespace):
    [one] = archive.put([b"here\n"])
    uid = new_uid()
    missing = {"id": "999999999999999999", "path": "gone", "hashtype": "sha1", "hashsum": "0" * 40}
    with pacifica.client() as client:
        assert (
            client.post(f"/{uid}", json={"fileids": [one.entry("here"), missing]}).status_code
            == 201
        )
    failed = wait_for_status(pacifica, uid)
    assert failed.headers["X-Pacifica-Status"] == "error"
    assert "id 999999999999999999 is not in the archive" in failed.headers["X-Pacifica-Message"]


def test_unknown_carts_are_404_and_a_deleted_cart_is_gone(pacifica: Caller, archive: Namespace):
    unknown = new_uid()
    with pacifica.client() as client:
        head = client.head(f"/{unknown}")
        assert head.status_code == 404
        assert head.headers["X-Pacifica-Status"] == "error"
        assert head.headers["X-Pacifica-Message"] == f"No cart with uid {unknown}"
        got = client.get(f"/{unknown}")
        assert got.status_code == 404
        assert got.json()["message"] == "The cart does not exist or has already been deleted"
        assert got.json()["traceback"] == ""
        assert client.delete(f"/{unknown}").status_code == 404

        [one] = archive.put([b"to delete\n"])
        uid = new_uid()
        assert client.post(f"/{uid}", json={"fileids": [one.entry("d")]}).status_code == 201
        assert wait_for_status(pacifica, uid).headers["X-Pacifica-Status"] == "ready"
        deleted = client.delete(f"/{uid}")
        assert (deleted.status_code, deleted.json()) == (
            200,
            {"message": "Cart Deleted Successfully"},
        )
        assert client.head(f"/{uid}").status_code == 404
        assert client.get(f"/{uid}").status_code == 404
        assert client.delete(f"/{uid}").status_code == 404


def test_asking_again_under_a_uid_replaces_its_cart(pacifica: Caller, archive: Namespace):
    first, second = archive.put([b"first\n", b"second\n"])
    uid = new_uid()
    with pacifica.client() as client:
        assert client.post(f"/{uid}", json={"fileids": [first.entry("1")]}).status_code == 201
        assert wait_for_status(pacifica, uid).headers["X-Pacifica-Status"] == "ready"
        again = client.post(f"/{uid}", json={"fileids": [second.entry("2")]})
        assert again.status_code == 201
        assert wait_for_status(pacifica, uid).headers["X-Pacifica-Status"] == "ready"
        tar = client.get(f"/{uid}", params={"filename": "c.tar"})
        assert members(tar.content) == {"c/2": b"second\n"}


def test_a_uid_never_reaches_another_users_cart(pacifica: Caller, bob: Caller, archive: Namespace):
    [mine] = archive.put([b"the account's\n"])
    uid = new_uid()
    with pacifica.client() as client:
        assert client.post(f"/{uid}", json={"fileids": [mine.entry("m")]}).status_code == 201
        assert wait_for_status(pacifica, uid).headers["X-Pacifica-Status"] == "ready"
    with bob.client() as other:
        assert other.head(f"/{uid}").status_code == 404
        assert other.get(f"/{uid}").status_code == 404
        assert other.delete(f"/{uid}").status_code == 404
        # bob's own cart under the same uid: his, and the namespace is not his to read
        assert other.post(f"/{uid}", json={"fileids": [mine.entry("m")]}).status_code == 201
        failed = wait_for_status(bob, uid)
        assert failed.headers["X-Pacifica-Status"] == "error"
        assert "not in the archive" in failed.headers["X-Pacifica-Message"]
        assert other.delete(f"/{uid}").status_code == 200
    with pacifica.client() as client:  # the account's cart is untouched
        assert client.head(f"/{uid}").headers["X-Pacifica-Status"] == "ready"
        tar = client.get(f"/{uid}", params={"filename": "m.tar"})
        assert members(tar.content) == {"m/m": b"the account's\n"}


def test_bad_requests_are_refused_and_record_nothing(pacifica: Caller, archive: Namespace):
    [one] = archive.put([b"x\n"])
    bad_bodies = [
        {"fileids": [one.entry("../escape")]},
        {"fileids": [one.entry("a/./b")]},
        {"fileids": [one.entry("")]},
        {"fileids": [one.entry("same"), one.entry("/same")]},
        {"fileids": [one.entry("f", "shake_128", "00")]},
        {"fileids": [one.entry("f", "sha1", "xyz")]},
        {
            "fileids": [
                {"id": "../../etc/passwd", "path": "p", "hashtype": "sha1", "hashsum": "0" * 40}
            ]
        },
        {"fileids": [{"id": one.id, "path": "p"}]},
        {"fileids": []},
        {"files": []},
    ]
    with pacifica.client() as client:
        for body in bad_bodies:
            uid = new_uid()
            refused = client.post(f"/{uid}", json=body)
            assert refused.status_code == 400, (body, refused.text)
            assert refused.json()["traceback"] == "" and refused.json()["message"]
            assert client.head(f"/{uid}").status_code == 404
        assert client.post("/not%20a%20uid", json={"fileids": [one.entry("f")]}).status_code == 400


def test_every_route_needs_a_token(api_with_carts: str):
    base = api_with_carts + "/pacifica/cart"
    uid = new_uid()
    for method in ("HEAD", "GET", "DELETE", "POST"):
        reply = httpx.request(method, f"{base}/{uid}", json={"fileids": []})
        assert reply.status_code == 403, (method, reply.status_code)
    forged = httpx.head(f"{base}/{uid}", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401
