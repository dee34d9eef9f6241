"""Tape writes kept in flight: never more than the depth unanswered, every buffer held
until its reply, and a failed reply raised at the next write or at the end."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from stores.tape.errors import TapeError
from stores.tape.writes import PipelinedWrites


@dataclass
class Status:
    ok: bool
    code: int = 0
    errno: int = 0
    message: str = ""


class Server:
    """An open file whose replies come from another thread, after ``delay``."""

    def __init__(self, delay: float = 0.01, fail_at: int | None = None, refuse_at=None):
        self.delay, self.fail_at, self.refuse_at = delay, fail_at, refuse_at
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()
        self.written: dict[int, bytes] = {}

    def write(self, data, offset, timeout, callback):
        if offset == self.refuse_at:
            return Status(False, 0, 0, "not sent")
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

        def reply():
            time.sleep(self.delay)
            with self.lock:
                self.written[offset] = bytes(data)
                self.in_flight -= 1
            callback(Status(offset != self.fail_at, 0, 0, "disk full"), None, None)

        threading.Thread(target=reply, daemon=True).start()
        return Status(True)


def test_writes_stay_within_the_depth_and_all_land():
    server = Server()
    writes = PipelinedWrites(server, "t.tar", 10, depth=3)
    for i in range(12):
        writes.send(bytes([i]) * 4, i * 4)
    writes.finish()
    assert server.most_in_flight == 3
    assert b"".join(server.written[i * 4] for i in range(12)) == b"".join(
        bytes([i]) * 4 for i in range(12)
    )
    assert not writes._held  # every buffer let go once answered


def test_a_failed_reply_is_raised_with_its_offset():
    server = Server(fail_at=8)
    writes = PipelinedWrites(server, "t.tar", 10, depth=2)
    with pytest.raises(TapeError, match=r"write t\.tar at byte 8: disk full"):
        for i in range(50):
            writes.send(b"abcd", i * 4)
        writes.finish()


def test_a_write_refused_before_it_was_sent_is_raised_and_the_rest_settle():
    server = Server(refuse_at=4)
    writes = PipelinedWrites(server, "t.tar", 10, depth=2)
    writes.send(b"abcd", 0)
    with pytest.raises(TapeError, match=r"write t\.tar at byte 4: not sent"):
        writes.send(b"efgh", 4)
    writes.settle()  # returns: the refused write holds no slot
    assert server.written == {0: b"abcd"}
