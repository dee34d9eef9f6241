"""Pacifica's own downloader (PyPI ``pacifica-downloader``) driving the cart wire as a
Pacifica user would: it makes a cart of the files a transaction or a notification names,
waits on HEAD until ready, and extracts the tar under ``<location>/data``. Once with a
nearline token, once in the trusted-network mode Pacifica's services expect (no
credentials at all)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pacifica.downloader import Downloader

from tests.integration.api.conftest import running_api
from tests.integration.pacifica_cart.conftest import PREFIX, Caller, Namespace


class Bearer(requests.auth.AuthBase):
    """A nearline token on each of the downloader's requests (its ``auth`` keyword)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def test_the_downloader_fetches_a_transaction_with_a_token(
    pacifica: Caller, archive: Namespace, tmp_path: Path
):
    foo, bar = archive.put([b"The data for foo.\n", "bär\n".encode()])
    transaction = {
        "files": {
            foo.id: {
                "subdir": "a/b",
                "name": "foo.txt",
                "hashtype": "sha1",
                "hashsum": sha1(foo.data),
            },
            bar.id: {
                "subdir": "a/b/\u00e9",
                "name": "bar\u00e9.txt",
                "hashtype": "sha1",
                "hashsum": sha1(bar.data),
            },
        }
    }
    downloader = Downloader(cart_api_url=pacifica.url, auth={"auth": Bearer(pacifica.token)})
    downloader.transactioninfo(str(tmp_path), transaction)
    assert (tmp_path / "data" / "a" / "b" / "foo.txt").read_bytes() == foo.data
    assert (tmp_path / "data" / "a" / "b" / "\u00e9" / "bar\u00e9.txt").read_bytes() == bar.data


def test_a_hash_mismatch_fails_the_downloader_and_extracts_nothing(
    pacifica: Caller, archive: Namespace, tmp_path: Path
):
    [foo] = archive.put([b"content\n"])
    transaction = {
        "files": {
            foo.id: {"subdir": "", "name": "f", "hashtype": "sha1", "hashsum": sha1(b"other")}
        }
    }
    downloader = Downloader(cart_api_url=pacifica.url, auth={"auth": Bearer(pacifica.token)})
    with pytest.raises(AssertionError):  # its own check: the cart did not become ready
        downloader.transactioninfo(str(tmp_path), transaction, timeout=60)
    assert not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def trusted_carts(
    settings, cart_env: dict[str, str], processors, tmp_path_factory
) -> Iterator[str]:
    """A second API in the trusted-network mode: bound to the trusted address, serving
    unauthenticated calls as the namespace's account."""
    log = tmp_path_factory.mktemp("pacifica-trusted-api") / "api.log"
    env = cart_env | {
        "NEARLINE_PACIFICA__TRUSTED_NETWORK": "true",
        "NEARLINE_PACIFICA__TRUSTED_HOST": "127.0.0.1",
        "NEARLINE_API__HOST": "127.0.0.1",
    }
    with running_api(env, settings.ports.api + 13, log) as url:
        yield url + PREFIX


def test_the_downloader_fetches_a_notification_on_a_trusted_network(
    trusted_carts: str, archive: Namespace, tmp_path: Path
):
    files = archive.put([f"The data for file {n}.\n".encode() for n in range(3)])
    event = {
        "data": [
            {
                "destinationTable": "Files",
                "_id": int(f.id),
                "subdir": f"subdir_{n}",
                "name": f"file.{n}.txt",
                "hashtype": "sha1",
                "hashsum": sha1(f.data),
            }
            for n, f in enumerate(files)
        ]
        + [{"destinationTable": "Transactions", "_id": 1}]
    }
    Downloader(cart_api_url=trusted_carts).cloudevent(str(tmp_path), event)
    for n, f in enumerate(files):
        assert (tmp_path / "data" / f"subdir_{n}" / f"file.{n}.txt").read_bytes() == f.data
