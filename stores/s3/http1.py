"""One keep-alive HTTP/1.1 connection, lean enough for thousands of small requests a second.

``http.client`` parses each response's headers with the ``email`` package, which costs
more CPU than all the rest of a small S3 GET (about 0.2 ms of some 0.5 ms), and CPU is
what bounds the many-small-objects paths. This reads what an S3 server answers: a status
line, header lines, and a body sized by ``Content-Length``, sent chunked, or ended by
closing the connection.
"""

from __future__ import annotations

import socket
import ssl
from typing import BinaryIO

MAX_LINE = 65536  # bytes in a status or header line
MAX_HEADERS = 200
JOINED_BODY = 1024 * 1024  # bodies up to this size go out with the headers, in one send


class ConnectFailed(Exception):
    """The TCP (or TLS) connection to the endpoint could not be made."""


class ProtocolError(Exception):
    """The server's answer was cut short or is not HTTP/1.1 as understood here."""


class Headers(dict[str, str]):
    """Response headers by lowercase name (a repeated header keeps its last value)."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)


class Connection:
    """Requests one after the other over one connection, opened on first use and again
    after the server closed it; not thread-safe (one per thread)."""

    def __init__(
        self,
        hostname: str,
        port: int | None,
        *,
        tls: ssl.SSLContext | None,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self._address = (hostname, port or (443 if tls is not None else 80))
        self._tls = tls
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._sock: socket.socket | None = None
        self._reader: BinaryIO | None = None

    def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, Headers, bytes]:
        """Send one request; its status, headers and whole body."""
        if self._sock is None:
            self._connect()
        assert self._sock is not None and self._reader is not None
        lines = [f"{method} {path} HTTP/1.1\r\n"]
        lines += [f"{name}: {value}\r\n" for name, value in headers.items()]
        head = "".join(lines).encode("latin-1") + b"\r\n"
        if len(body) <= JOINED_BODY:
            self._sock.sendall(head + body)  # one send: no wait between headers and body
        else:
            self._sock.sendall(head)
            self._sock.sendall(body)
        status, answer = _read_head(self._reader)
        while 100 <= status < 200:  # interim answers precede the real one
            status, answer = _read_head(self._reader)
        bodiless = method == "HEAD" or status in (204, 304)
        data = b"" if bodiless else self._read_body(answer)
        if (answer.get("connection") or "").lower() == "close":
            self.close()
        return status, answer, data

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._reader = None

    def _connect(self) -> None:
        try:
            sock = socket.create_connection(self._address, timeout=self._connect_timeout)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self._address[0])
        except OSError as error:
            raise ConnectFailed(str(error)) from error
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self._read_timeout)  # connecting had the connect timeout
        self._sock = sock
        self._reader = sock.makefile("rb")

    def _read_body(self, answer: Headers) -> bytes:
        assert self._reader is not None
        if "chunked" in (answer.get("transfer-encoding") or "").lower():
            return _read_chunked(self._reader)
        length = answer.get("content-length")
        if length is None:  # the body ends with the connection
            data = self._reader.read()
            self.close()
            return data
        if not length.isdigit():
            raise ProtocolError(f"Content-Length {length!r}")
        return _read_exactly(self._reader, int(length))


def _read_line(reader: BinaryIO) -> bytes:
    line = reader.readline(MAX_LINE + 1)
    if not line:
        raise ProtocolError("the server closed the connection")
    if len(line) > MAX_LINE:
        raise ProtocolError("a line of the answer is too long")
    return line


def _read_head(reader: BinaryIO) -> tuple[int, Headers]:
    status_line = _read_line(reader).split(None, 2)
    if (
        len(status_line) < 2
        or not status_line[0].startswith(b"HTTP/1.")
        or not (status_line[1].isdigit())
    ):
        raise ProtocolError(f"not an HTTP/1.x status line: {b' '.join(status_line)!r}")
    headers = Headers()
    for _ in range(MAX_HEADERS):
        line = _read_line(reader)
        if line in (b"\r\n", b"\n"):
            return int(status_line[1]), headers
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise ProtocolError(f"not a header line: {line!r}")
        headers[name.strip().lower()] = value.strip()
    raise ProtocolError("too many headers")


def _read_exactly(reader: BinaryIO, size: int) -> bytes:
    data = reader.read(size)
    if len(data) != size:
        raise ProtocolError(f"the body ended after {len(data)} of {size} bytes")
    return data


def _read_chunked(reader: BinaryIO) -> bytes:
    pieces: list[bytes] = []
    while True:
        size_field = _read_line(reader).split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            raise ProtocolError(f"chunk size {size_field!r}") from None
        if size == 0:
            while _read_line(reader) not in (b"\r\n", b"\n"):  # trailers, ignored
                pass
            return b"".join(pieces)
        pieces.append(_read_exactly(reader, size))
        _read_line(reader)  # the CRLF after each chunk
