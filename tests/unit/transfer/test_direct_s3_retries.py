"""DirectS3 retries what is transient and reports the rest as botocore would (loopback
HTTP server scripted per test, no S3 needed)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from nearline.settings import S3Settings
from stores.s3.direct_s3 import DirectS3
from stores.s3.transfer_client import ClientTuning

BODY = b"content"
SHA256 = hashlib.sha256(BODY).hexdigest()
SLOW_DOWN = b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>"


class ScriptedServer(ThreadingHTTPServer):
    """Plays ``steps`` in order: a (status, body) answer, "hang" or "drop"."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Script)
        self.steps: list[tuple[int, bytes] | str] = []
        self.requests: list[dict[str, str]] = []


class Script(BaseHTTPRequestHandler):
    """Answers each request with the next step of the server's script."""

    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        assert isinstance(self.server, ScriptedServer)
        self.server.requests.append(dict(self.headers))
        step = self.server.steps.pop(0)
        if step == "hang":
            time.sleep(1)
            return
        if step == "drop":
            self.close_connection = True
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            return
        assert isinstance(step, tuple)
        status, body = step
        self.send_response(status)
        self.send_header("ETag", '"abc"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("stores.s3.direct_s3.MAX_BACKOFF", 0.01)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    httpd = ScriptedServer()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()  # within its 0.5 s poll
    httpd.server_close()


def direct(server: ScriptedServer, attempts: int = 3, read_timeout: float = 10) -> DirectS3:
    settings = S3Settings(
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        access_key="ak",
        secret_key="sk",
        bucket="b",
    )
    return DirectS3(
        settings, ClientTuning(max_attempts=attempts, connect_timeout=1, read_timeout=read_timeout)
    )


def test_a_request_is_signed_and_carries_checksum_and_metadata(server):
    server.steps = [(200, b"")]
    assert direct(server).put("h1/t/k", BODY, SHA256, {"sha256": SHA256}) == "abc"
    headers = {name.lower(): value for name, value in server.requests[0].items()}
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ak/")
    assert headers["x-amz-content-sha256"] == SHA256
    assert headers["x-amz-meta-sha256"] == SHA256
    assert "x-amz-checksum-sha256" in headers


def test_server_errors_and_throttling_are_retried(server):
    server.steps = [(503, SLOW_DOWN), (500, b""), (200, b"")]
    assert direct(server).put("k", BODY, SHA256, {}) == "abc"
    assert len(server.requests) == 3


def test_retries_end_with_the_last_error(server):
    server.steps = [(503, SLOW_DOWN)] * 2
    with pytest.raises(ClientError) as failed:
        direct(server, attempts=2).put("k", BODY, SHA256, {})
    assert failed.value.response["Error"]["Code"] == "SlowDown"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_client_errors_are_not_retried(server):
    server.steps = [(400, b"<Error><Code>BadDigest</Code></Error>")]
    with pytest.raises(ClientError) as failed:
        direct(server).put("k", BODY, SHA256, {})
    assert failed.value.response["Error"]["Code"] == "BadDigest"
    assert len(server.requests) == 1


def test_a_dropped_connection_is_retried_then_reported(server):
    server.steps = ["drop", (200, b"")]
    assert direct(server).put("k", BODY, SHA256, {}) == "abc"
    server.steps = ["drop", "drop"]
    with pytest.raises(ConnectionClosedError):
        direct(server, attempts=2).put("k", BODY, SHA256, {})


def test_a_silent_server_times_out(server):
    server.steps = ["hang"]
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        direct(server, attempts=1, read_timeout=0.3).put("k", BODY, SHA256, {})
    assert time.monotonic() - started < 1
