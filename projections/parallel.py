"""Parts of a replay run in processes of their own, their progress summed.

Decoding facts and building rows is Python work that one interpreter does on one core at
a time; a replay split by partition runs it on as many cores as there are parts. Each
part is a forked process that opens its own database connections and Kafka consumer
(nothing of the parent's is used in it) and counts its applied events into shared
memory.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.queues import SimpleQueue
from typing import Any

REPORT_EVERY_S = 1.0


@dataclass
class Progress:
    events: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


Report = Callable[[Progress], None]
Work = Callable[[Report], Progress]
"""A part of the work: runs to its end, telling its progress on the way."""


class PartFailed(RuntimeError):
    """A part of the replay failed; the others were stopped."""


def run(parts: Sequence[Work], report: Report) -> Progress:
    """Run ``parts`` at the same time, each in a forked process, until all are done;
    ``report`` hears the summed progress about every second. Raises ``PartFailed`` when
    one fails, having stopped the others."""
    context = multiprocessing.get_context("fork")
    counts: Any = context.Array("q", len(parts), lock=False)
    errors: SimpleQueue[str] = context.SimpleQueue()
    processes = [
        context.Process(
            target=_work, args=(part, counts, index, errors), name=f"nearline-replay-{index}"
        )
        for index, part in enumerate(parts)
    ]
    started = time.monotonic()
    for process in processes:
        process.start()
    try:
        running = list(processes)
        while running:
            ended = wait([p.sentinel for p in running], timeout=REPORT_EVERY_S)
            for process in running:
                if process.sentinel in ended:
                    # Its sentinel is ready a moment before its exit code is: without
                    # the join, this loop went round (and reported) until it was.
                    process.join()
            if any(p.exitcode not in (None, 0) for p in running):
                reason = errors.get() if not errors.empty() else "a replay process died"
                raise PartFailed(reason)
            running = [p for p in running if p.exitcode is None]
            report(Progress(sum(counts), time.monotonic() - started))
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
    return Progress(sum(counts), time.monotonic() - started)


def _work(part: Work, counts: Any, index: int, errors: SimpleQueue[str]) -> None:
    def count(progress: Progress) -> None:
        counts[index] = progress.events

    try:
        count(part(count))
    except BaseException as error:
        errors.put(f"{type(error).__name__}: {error}")
        raise SystemExit(1) from None
