"""read_ahead: a stream's next pages made while the one before is sent, in order, a
bounded number ahead, its errors raised to the reader, stopped when the reader goes."""

from __future__ import annotations

import threading
import time

import pytest

from api.read_ahead import read_ahead


def test_items_come_in_order_and_all_of_them():
    assert list(read_ahead(iter(range(100)), depth=3)) == list(range(100))


def test_no_more_than_depth_are_made_ahead_of_the_reader():
    made: list[int] = []

    def counted():
        for n in range(50):
            made.append(n)
            yield n

    ahead = read_ahead(counted(), depth=2)
    assert next(ahead) == 0
    time.sleep(0.3)  # the producer runs until the queue is full
    # read one, two waiting in the queue, one made and waiting to be put
    assert len(made) <= 4
    ahead.close()


def test_an_error_of_the_items_is_raised_to_the_reader_after_the_items_before_it():
    def breaking():
        yield 1
        yield 2
        raise ConnectionError("the database went away")

    ahead = read_ahead(breaking())
    assert next(ahead) == 1 and next(ahead) == 2
    with pytest.raises(ConnectionError):
        next(ahead)


def test_a_reader_that_goes_away_stops_the_producer():
    finished = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            finished.set()

    ahead = read_ahead(endless(), depth=1)
    next(ahead)
    ahead.close()
    assert finished.wait(5), "the producer kept making items no one reads"
