"""Progress of a running sub-batch (D132): counted once per file from the transfer's
threads, told at a bounded rate while it changes and once at the end, with event ids
derived from the figures (a redelivered step that gets as far repeats the same ids)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

from events.status import SubBatchProgress
from events.work import TransferPutRequested
from processors.progress import Progress, progress_event, reporting, starting
from stores.outcomes import NO_TALLY


def test_a_file_counts_once_and_its_bytes_as_they_move():
    progress = Progress(files_total=3, bytes_total=300)
    progress.moved(b"/a", 40)
    progress.moved(b"/a", 40)
    assert progress.figures() == SubBatchProgress(
        files_done=0, files_total=3, bytes_done=80, bytes_total=300
    )
    progress.done(b"/a", 100)  # its size, not what moved on top of it
    progress.done(b"/a", 100)  # a retried or redelivered file counts once
    progress.moved(b"/a", 50)  # nothing moves of a file already done
    assert progress.figures()["files_done"] == 1 and progress.figures()["bytes_done"] == 100
    progress.done(b"/b", 100)
    progress.done(b"/c", 100)
    progress.done(b"/stray", 100)  # never past the totals
    assert progress.figures() == SubBatchProgress(
        files_done=3, files_total=3, bytes_done=300, bytes_total=300
    )


def test_threads_counting_at_once_lose_nothing():
    progress = Progress(files_total=8000, bytes_total=8000 * 10)

    def count(start: int) -> None:
        for i in range(start, start + 1000):
            progress.moved(i, 4)
            progress.done(i, 10)

    threads = [threading.Thread(target=count, args=(n * 1000,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert progress.figures()["files_done"] == 8000
    assert progress.figures()["bytes_done"] == 80000


def test_figures_are_told_at_most_once_an_interval_while_they_change_and_at_the_end():
    progress = Progress(files_total=10, bytes_total=1000)
    told: list[tuple[float, SubBatchProgress]] = []

    def work() -> str:
        for i in range(10):
            time.sleep(0.05)
            progress.done(i, 100)
        time.sleep(0.3)  # figures that stay put are not told again
        return "report"

    async def send(figures: SubBatchProgress) -> None:
        told.append((time.monotonic(), figures))

    async def run() -> str:
        return await reporting(asyncio.to_thread(work), progress, send, interval_s=0.1)

    started = time.monotonic()
    assert asyncio.run(run()) == "report"
    assert told[-1][1]["files_done"] == 10 and told[-1][1]["bytes_done"] == 1000
    done = [figures["files_done"] for _, figures in told]
    assert done == sorted(done) and len(set(done)) == len(done)  # rising, none repeated
    assert 2 <= len(told) <= 8  # intermediate figures, but not one per file
    times = [started, *(at for at, _ in told[:-1])]  # before the final report
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(times))  # a bounded rate


def test_the_final_figures_are_not_told_twice_and_work_of_no_files_tells_nothing():
    told: list[SubBatchProgress] = []

    async def send(figures: SubBatchProgress) -> None:
        told.append(figures)

    async def instant() -> int:
        return 7

    empty = Progress(files_total=0, bytes_total=0)
    assert asyncio.run(reporting(instant(), empty, send, interval_s=0.01)) == 7
    assert told == []

    progress = Progress(files_total=1, bytes_total=5)

    async def slow() -> int:
        progress.done(b"/a", 5)
        await asyncio.sleep(0.2)
        return 8

    assert asyncio.run(reporting(slow(), progress, send, interval_s=0.05)) == 8
    assert told == [SubBatchProgress(files_done=1, files_total=1, bytes_done=5, bytes_total=5)]


def test_an_error_of_the_work_is_raised_as_it_is():
    async def send(figures: SubBatchProgress) -> None:
        raise AssertionError("nothing is told of failed work")

    async def failing() -> None:
        raise OSError("the disk")

    try:
        asyncio.run(reporting(failing(), Progress(1, 1), send, interval_s=0.05))
    except OSError as error:
        assert str(error) == "the disk"
    else:
        raise AssertionError("the error was swallowed")


def request() -> TransferPutRequested:
    return TransferPutRequested(
        event_id="e-1",
        transaction_id="t-1",
        user="alice",
        group="climate",
        cause_id=None,
        occurred_at=1,
        holding_id=3,
        sub_batch=2,
        files=[],
    )


def test_a_report_names_its_sub_batch_step_and_figures_and_its_id_follows_them():
    figures = SubBatchProgress(files_done=1, files_total=4, bytes_done=10, bytes_total=40)
    event = progress_event(request(), 2, "TRANSFER_PUTTING", "put", figures, retries=1)
    assert (event.sub_id, event.state, event.progress, event.retries) == (
        2,
        "TRANSFER_PUTTING",
        figures,
        1,
    )
    assert event.cause_id == "e-1" and event.user == "alice"
    again = progress_event(request(), 2, "TRANSFER_PUTTING", "put", dict(figures))  # type: ignore[arg-type]
    assert again.event_id == event.event_id  # the same point of the same step
    further = SubBatchProgress(**{**figures, "files_done": 2})
    assert progress_event(request(), 2, "TRANSFER_PUTTING", "put", further).event_id != (
        event.event_id
    )
    other_step = progress_event(request(), 2, "TRANSFER_GETTING", "get", figures)
    assert other_step.event_id != event.event_id
    assert starting(4, 40) == SubBatchProgress(
        files_done=0, files_total=4, bytes_done=0, bytes_total=40
    )


def test_nothing_counts_without_a_tally():
    NO_TALLY.moved(b"/a", 3)
    NO_TALLY.done(b"/a", 3)
