"""The lean HTTP/1.1 connection reads every way an S3 server may send an answer, and says
clearly when an answer is cut short or is not HTTP."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from stores.s3.http1 import ConnectFailed, Connection, ProtocolError


@pytest.fixture
def server() -> Iterator[tuple[int, list[bytes], list[bytes]]]:
    """A loopback server answering each request with the next canned answer; it closes the
    connection after an answer ending in ``CLOSE``. Yields its port, the answers to give,
    and the requests it received."""
    answers: list[bytes] = []
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                while answers:
                    request = conn.recv(65536)
                    if not request:
                        break
                    received.append(request)
                    answer = answers.pop(0)
                    conn.sendall(answer.removesuffix(b"CLOSE"))
                    if answer.endswith(b"CLOSE"):
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], answers, received
    listener.close()


def connect(port: int) -> Connection:
    return Connection("127.0.0.1", port, tls=None, connect_timeout=2, read_timeout=2)


def test_sized_answers_reuse_one_connection(server):
    port, answers, received = server
    answers += [
        b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: "e1"\r\nX-Amz-Meta-Sha256: ab\r\n\r\nhello',
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    ]
    connection = connect(port)
    status, headers, body = connection.request("GET", "/b/k", {"host": "h"})
    assert (status, body, headers.get("ETag"), headers["x-amz-meta-sha256"]) == (
        200,
        b"hello",
        '"e1"',
        "ab",
    )
    assert connection.request("GET", "/b/missing", {"host": "h"})[0] == 404
    assert received[0].startswith(b"GET /b/k HTTP/1.1\r\nhost: h\r\n\r\n")
    assert len(received) == 2


def test_chunked_and_interim_answers(server):
    port, answers, _ = server
    answers.append(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
    )
    assert connect(port).request("PUT", "/b/k", {}, b"body")[::2] == (200, b"abcde")


def test_a_body_ended_by_closing_and_a_closed_connection_reopened(server):
    port, answers, received = server
    answers += [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the endCLOSE",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ]
    connection = connect(port)
    assert connection.request("GET", "/b/k", {})[2] == b"until the end"
    assert connection.request("DELETE", "/b/k", {})[0] == 204  # over a new connection
    assert len(received) == 2


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshortCLOSE", "ended after 5 of 10"),
        (b"CLOSE", "closed the connection"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "not a header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
    ],
)
def test_answers_cut_short_or_not_http_are_protocol_errors(server, answer, says):
    port, answers, _ = server
    answers.append(answer)
    with pytest.raises(ProtocolError, match=says):
        connect(port).request("GET", "/b/k", {})


def test_nobody_listening_is_a_failed_connect():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(ConnectFailed):
        connect(port).request("GET", "/", {})
