"""The ``nearline`` command in-process (typer's CliRunner) against the real API over the
stack: log in, put a tree, watch it, then list, find and stat it with --json; the errors
a user meets; and carts: 1,000 files downloaded as one tar (20-30 s here, half of it
the download's HEAD and GET of each object), deleted, refused to others."""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from client.cli import app
from client.cli import commands as _commands  # noqa: F401 (registers the commands)
from client.library import NotFound
from tests.integration.accounts import chown
from tests.integration.api.conftest import Account

BAD_NAME = b"bad-\xff-name.nc"


class Nearline:
    """One user's shell: their own config folder (token file), pointed at the API."""

    def __init__(self, api_url: str, home: Path) -> None:
        self.runner = CliRunner()
        self.env = {"NEARLINE_URL": api_url, "XDG_CONFIG_HOME": str(home), "COLUMNS": "200"}

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), env=self.env, input=input)

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, f"{args}: {result.output} {result.stderr}"
        return json.loads(result.stdout)

    def login(self, account: Account) -> None:
        result = self("login", "--user", account.user, "--password-stdin", input=account.password)
        assert result.exit_code == 0, result.output


def owned_tree(root: Path, owner: Account, files: dict[bytes, bytes]) -> None:
    for relative, data in files.items():
        path = os.fsencode(root) + b"/" + relative
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        chown(dirpath, owner.user, owner.group)
        for name in dirnames + filenames:
            chown(os.path.join(dirpath, name), owner.user, owner.group)


@pytest.fixture
def alice(api_url: str, accounts: dict[str, Account], tmp_path: Path) -> Nearline:
    shell = Nearline(api_url, tmp_path / "alice-config")
    shell.login(accounts["alice"])
    return shell


def test_put_watch_list_find_stat_with_json(alice, accounts, shared_dir, tmp_path):
    owner = accounts["alice"]
    contents = {
        b"run/a.nc": os.urandom(3000),
        b"run/sub/b.nc": b"b" * 100,
        b"run/" + BAD_NAME: b"x",
    }
    owned_tree(shared_dir, owner, contents)
    label = f"cli-{uuid.uuid4().hex[:6]}"
    # The login is kept readable by its owner only.
    token_file = tmp_path / "alice-config" / "nearline" / "token.json"
    assert token_file.stat().st_mode & 0o777 == 0o600

    # put: a folder, with a label and a tag, as the user typed it
    accepted = alice.json("put", str(shared_dir / "run"), "--label", label, "--tag", "project=cli")
    transaction = accepted["transaction_id"]
    assert accepted["api_action"] == "put"

    # watch: follows it until it ends, exit status 0 when COMPLETE
    watched = alice("watch", transaction, "--interval", "0.2", "--timeout", "300", "--json")
    assert watched.exit_code == 0, watched.output
    assert json.loads(watched.stdout)["state"] == "COMPLETE"

    # list: the holding and its tag
    [holding] = alice.json("list", "--label", label)
    assert holding["tags"] == {"project": "cli"} and holding["transactions"] == [transaction]

    # find: every file, the non-UTF-8 name exact in path_b64
    found = alice.json("find", "--label", label)
    files = {f["path"]: f for f in found if f["path_type"] == "FILE"}
    assert len(files) == 3
    [bad] = [f for f in files.values() if f["path_b64"]]

    assert base64.b64decode(bad["path_b64"]) == os.fsencode(shared_dir) + b"/run/" + BAD_NAME
    by_regex = alice.json("find", "--label", label, "--regex", r"/sub/b\.nc$")
    assert [f["path"] for f in by_regex] == [str(shared_dir / "run" / "sub" / "b.nc")]
    # a non-UTF-8 name given on the command line (as the shell hands it to Python) survives
    exact = alice.json("find", "--path", os.fsdecode(base64.b64decode(bad["path_b64"])))
    assert [f["path_b64"] for f in exact] == [bad["path_b64"]]

    # stat: the transaction, by id and among the user's puts
    assert alice.json("stat", transaction)["state"] == "COMPLETE"
    puts = alice.json("stat", "--api-action", "put", "--state", "COMPLETE", "--order", "desc")
    assert transaction in [t["transaction_id"] for t in puts]

    # human output: a table naming the holding
    table = alice("list", "--label", label)
    assert table.exit_code == 0 and label in table.stdout and "project=cli" in table.stdout


def test_errors_tell_the_user_what_to_do(api_url, accounts, tmp_path, alice):
    stranger = Nearline(api_url, tmp_path / "nobody")
    # not logged in
    result = stranger("list")
    assert result.exit_code == 1 and "nearline login" in result.stderr
    # wrong password
    result = stranger("login", "--user", accounts["alice"].user, "--password-stdin", input="no\n")
    assert result.exit_code == 1 and "Login refused" in result.stderr
    assert not (tmp_path / "nobody" / "nearline" / "token.json").exists()
    # an unknown label: nothing listed, and meta says how to find yours
    assert alice.json("list", "--label", "cli-no-such-label") == []
    result = alice("meta", "--label", "cli-no-such-label", "--new-label", "x")
    assert result.exit_code == 1 and "nearline list" in result.stderr
    # a server that does not answer: the URL tried
    result = alice("login", "--server", "http://127.0.0.1:9", "--password-stdin", input="x\n")
    assert result.exit_code == 1 and "http://127.0.0.1:9" in result.stderr


def wait_for_cart(shell: Nearline, cart_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = shell("cart", "status", cart_id, "--json")
        if result.exit_code == 0:
            cart = json.loads(result.stdout)
            if cart["state"] in ("ready", "error"):
                return cart
        time.sleep(0.5)
    raise TimeoutError(f"cart {cart_id} did not finish")


def test_a_cart_of_1000_files_downloads_as_one_tar(alice, api_url, accounts, shared_dir, tmp_path):
    owner = accounts["alice"]
    contents = {b"many/d%02d/f%04d.dat" % (i % 10, i): os.urandom(i % 700) for i in range(1000)}
    contents[b"many/" + BAD_NAME] = b"not utf-8"
    contents[b"many/" + b"long-" * 40 + b".nc"] = b"long name"
    owned_tree(shared_dir, owner, contents)
    label = f"cart-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    put = alice.json("put", str(shared_dir / "many"), "--label", label)
    watched = alice("watch", put["transaction_id"], "--interval", "0.5", "--timeout", "600")
    assert watched.exit_code == 0, watched.output
    put_s = time.monotonic() - started

    # find lists every entry, past one page, streamed: 1,002 files and 11 folders
    assert len(alice.json("find", "--label", label)) == 1013
    listed = alice("find", "--label", label)
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].split("\t") == ["holding", "path", "type", "size", "adler32", "where"]
    assert len(lines) == 1 + 1013 and all(line.count("\t") == 5 for line in lines)
    assert len(alice.json("find", "--label", label, "--limit", "10")) == 10

    # a cart of the holding's files: waiting, then ready
    started = time.monotonic()
    cart = alice.json("cart", "create", "--label", label)
    assert cart["state"] == "waiting"
    ready = wait_for_cart(alice, cart["cart_id"])
    assert ready["state"] == "ready", ready["message"]
    assert ready["file_count"] == len(contents)
    assert ready["total_size"] == sum(len(d) for d in contents.values())
    prepared_s = time.monotonic() - started

    # downloaded as one tar whose members are the files, byte for byte
    started = time.monotonic()
    target = tmp_path / "mine.tar"
    saved = alice.json("cart", "download", cart["cart_id"], "--output", str(target))
    download_s = time.monotonic() - started
    assert saved["size"] == target.stat().st_size
    prefix = os.fsencode(shared_dir).lstrip(b"/") + b"/"
    with tarfile.open(target, encoding="utf-8", errors="surrogateescape") as tar:
        members = {os.fsencode(m.name): m for m in tar.getmembers()}
        assert set(members) == {prefix + name for name in contents}
        for name, data in contents.items():
            extracted = tar.extractfile(members[prefix + name])
            assert extracted is not None and extracted.read() == data
    print(
        f"\n1002 files: put+watch {put_s:.1f} s, cart ready {prepared_s:.1f} s, "
        f"download {download_s:.2f} s ({target.stat().st_size} bytes)"
    )

    # another user cannot see, download or delete it
    bob = Nearline(api_url, tmp_path / "bob-config")
    bob.login(accounts["bob"])
    for args in (("status",), ("download", "--output", str(tmp_path / "b.tar")), ("delete",)):
        result = bob("cart", args[0], cart["cart_id"], *args[1:])
        assert result.exit_code == 1 and "You have no cart" in result.stderr, result.output
    assert cart["cart_id"] not in [c["cart_id"] for c in bob.json("cart", "list")]

    # deleted: gone from its owner's carts
    assert alice.json("cart", "delete", cart["cart_id"])["message"]
    deadline = time.monotonic() + 60
    while alice("cart", "status", cart["cart_id"]).exit_code == 0:
        assert time.monotonic() < deadline, "the deleted cart is still shown"
        time.sleep(0.3)
    assert cart["cart_id"] not in [c["cart_id"] for c in alice.json("cart", "list")]


def test_the_library_streams_a_cart_chosen_by_regex(alice, accounts, shared_dir):
    from client.library import Client, Refused

    owner = accounts["alice"]
    contents = {b"small/one.txt": b"one\n", b"small/two.txt": b"two" * 1000}
    owned_tree(shared_dir, owner, contents)
    label = f"cart-small-{uuid.uuid4().hex[:6]}"
    put = alice.json("put", str(shared_dir / "small"), "--label", label)
    assert alice("watch", put["transaction_id"], "--interval", "0.2").exit_code == 0
    session = Path(alice.env["XDG_CONFIG_HOME"]) / "nearline" / "token.json"
    with Client(alice.env["NEARLINE_URL"], session_path=session) as nearline:
        cart = nearline.create_cart(label=label, regex=r"two\.txt$")
        # not ready yet (or not even shown yet): a download is refused, not a broken tar
        with pytest.raises((Refused, NotFound)):
            b"".join(nearline.download_cart(cart["cart_id"]))
        assert wait_for_cart(alice, cart["cart_id"])["state"] == "ready"
        # HEAD: the state in headers, as Pacifica's carts answer
        assert nearline.session is not None
        bearer = {"Authorization": f"Bearer {nearline.session.access_token}"}
        url = f"{alice.env['NEARLINE_URL']}/api/v1/carts/{cart['cart_id']}"
        head = httpx.head(url, headers=bearer)
        assert head.status_code == 204 and head.headers["X-Nearline-Cart-State"] == "ready"
        assert head.headers["X-Pacifica-Status"] == "ready"
        download = httpx.get(url + "/download", params={"filename": "two.tar"}, headers=bearer)
        assert download.headers["content-type"] == "application/x-tar"
        assert download.headers["content-disposition"] == 'attachment; filename="two.tar"'
        data = b"".join(nearline.download_cart(cart["cart_id"], "two.tar"))
        assert data == download.content
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        [member] = tar.getmembers()
        assert member.name == os.fsdecode(shared_dir).lstrip("/") + "/small/two.txt"
        extracted = tar.extractfile(member)
        assert extracted is not None and extracted.read() == b"two" * 1000


def test_a_cart_that_matches_nothing_fails_with_a_reason(alice, tmp_path):
    cart = alice.json("cart", "create", "--label", f"cli-none-{uuid.uuid4().hex[:6]}")
    failed = wait_for_cart(alice, cart["cart_id"])
    assert failed["state"] == "error" and "No file matches" in failed["message"]
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    result = alice("cart", "download", cart["cart_id"], "--output", str(downloads / "none.tar"))
    assert result.exit_code == 1 and "not ready" in result.stderr
    assert list(downloads.iterdir()) == []  # neither a tar nor half of one is left
