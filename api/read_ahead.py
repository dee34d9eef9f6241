"""An iterator's next items made in a thread of its own, a bounded number ahead of its
reader: a streamed reply reads and renders its next page while the page before is being
sent, instead of one after the other (D200)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
_WAIT_S = 0.5  # how often a blocked producer looks whether the reader went away


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items``, in order, at most ``depth`` made and not yet read. An exception of
    ``items`` is raised to the reader where the item would have been; a reader that
    stops (closes this generator) stops the producer at its next item."""
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def hand_over(item: object) -> bool:
        while not stopped.is_set():
            try:
                ready.put(item, timeout=_WAIT_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    return
        except BaseException as error:  # handed to the reader, raised there
            hand_over(error)
            return
        hand_over(_DONE)

    producer = threading.Thread(target=produce, name="read-ahead", daemon=True)
    producer.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stopped.set()
