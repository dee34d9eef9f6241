"""Messages between the service and a user's file-system worker, over a Unix socket pair.

A message is a JSON object, sent as packets of a ``SOCK_SEQPACKET`` socket: each packet is
one flag byte (``M``: more follows, ``E``: the message ends) and a chunk of the JSON text.
Open descriptors travel with the first packet of a message (``SCM_RIGHTS``), so the
receiver gets its own copies of files the sender opened.

Paths are bytes on disk; they cross as latin-1 text, which maps every byte to one
character and back, whatever the locale of either side.

Standard library only: the worker runs this before it has dropped root, with ``-I -S``.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

PACKET = 60_000  # well under the socket buffer, so a packet is never refused for size
MAX_FDS = 250  # below the kernel's SCM_MAX_FD (253) descriptors per packet
MAX_MESSAGE = 64 * 1024 * 1024  # a worker cannot make the service hold more than this


class WireError(Exception):
    """The other side hung up, or sent something that is not a message."""


def text(path: bytes) -> str:
    return path.decode("latin-1")


def path(value: str) -> bytes:
    return value.encode("latin-1")


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    """Send ``message`` with copies of ``fds`` (at most ``MAX_FDS``)."""
    data = json.dumps(message, separators=(",", ":")).encode()
    chunks = [data[i : i + PACKET] for i in range(0, len(data), PACKET)] or [b""]
    last = len(chunks) - 1
    for index, chunk in enumerate(chunks):
        packet = (b"E" if index == last else b"M") + chunk
        if index == 0 and fds:
            socket.send_fds(sock, [packet], fds)
        else:
            sock.send(packet)


def receive(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """The next message and the descriptors that came with it (now owned by the caller)."""
    parts: list[bytes] = []
    fds: list[int] = []
    size = 0
    try:
        while True:
            packet, got, flags, _ = socket.recv_fds(sock, PACKET + 1, MAX_FDS)
            fds.extend(got)
            if flags & socket.MSG_CTRUNC:
                raise WireError("too many descriptors in one packet")
            if not packet:
                raise WireError("the other side hung up")
            size += len(packet)
            if size > MAX_MESSAGE:
                raise WireError("message too large")
            parts.append(packet[1:])
            if packet[:1] == b"E":
                break
            if packet[:1] != b"M":
                raise WireError("not a message packet")
        message = json.loads(b"".join(parts))
        if not isinstance(message, dict):
            raise WireError("a message must be a JSON object")
        return message, fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
