"""The transfer clients of a process share one boto3 session: S3's service model and
endpoint rules are loaded once, not once per store."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from pydantic import SecretStr

from nearline.settings import S3Settings
from stores.s3 import transfer_client as transfer_client_module
from stores.s3.transfer_client import ClientTuning, transfer_client

S3 = S3Settings(
    endpoint_url="http://127.0.0.1:9",
    access_key=SecretStr("key"),
    secret_key=SecretStr("secret"),
)


def loader(client: object) -> object:
    return client._loader  # type: ignore[attr-defined]


def pool_size(client: object) -> int:
    return int(client.meta.config.max_pool_connections)  # type: ignore[attr-defined]


def test_clients_share_the_loaded_service_model() -> None:
    first = transfer_client(S3, 4, ClientTuning())
    second = transfer_client(S3, 8, ClientTuning())
    assert first is not second
    assert loader(first) is loader(second)
    # Each keeps its own connection pool size.
    assert pool_size(first) == 4
    assert pool_size(second) == 8


def test_clients_made_from_many_threads_at_once() -> None:
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda n: transfer_client(S3, n + 1, ClientTuning()), range(16)))
    assert len({id(c) for c in clients}) == 16
    assert len({id(loader(c)) for c in clients}) == 1


def test_a_child_forked_while_the_lock_is_held_makes_its_own() -> None:
    parent = transfer_client(S3, 1, ClientTuning())
    read, write = os.pipe()
    with transfer_client_module._SESSION_LOCK:  # another thread making a client
        pid = os.fork()
        if pid == 0:  # the child: not stuck on the lock, and a session of its own
            child = transfer_client(S3, 1, ClientTuning())
            os.write(write, b"own" if loader(child) is not loader(parent) else b"shared")
            os._exit(0)
    os.close(write)
    deadline = time.monotonic() + 20
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("the child waited for a lock its parent's thread held")
        time.sleep(0.05)
    assert os.read(read, 16) == b"own"
