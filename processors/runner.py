"""How every processor process runs: one start-up, one health, one graceful stop.

A faust worker (``run_worker``) and a plain loop (``run_loop``, after Rucio's
``run_daemon`` with its testable ``run_once``) start the same way (``start_up``: the
topics and schemas are prepared, the metrics and health listener answers), report
readiness on the same ``/readyz``, and stop on SIGTERM or SIGINT after the work at hand:
faust's worker finishes the event in hand and commits; a loop finishes its ``run_once``
and its caller then closes what it opened. An error that escapes the work ends the
process, whose supervisor (systemd, compose, ``nearline-admin serve``) starts it again.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

import faust

from nearline import bus
from nearline.observe import logs, server
from nearline.settings import Settings

log = logging.getLogger("nearline.runner")

RunOnce = Callable[[], float | None]
"""One turn of a loop's work; how long to wait before the next turn (None: the loop's
interval)."""


def start_up(settings: Settings, health: server.Health = server.HEALTH) -> None:
    """What every process does before its work: its topics and schemas on the bus
    (``bus.prepare``), and its metrics and health listener (when ``metrics.port``)."""
    bus.prepare(settings)
    server.serve(settings, health)


def run_worker(app: faust.App) -> None:
    """Run a faust app made by ``processors.app.make_app`` (which did ``start_up`` and
    ties readiness to the consumer group) as a worker, with the command line it was
    given (``worker --without-web -l info``); faust's worker stops gracefully on
    SIGTERM and SIGINT."""
    app.main()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (from the main thread only)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def run_loop(
    name: str,
    settings: Settings,
    run_once: RunOnce,
    interval_s: float = 0.0,
    *,
    ready: str | None = None,
    stop: threading.Event | None = None,
    health: server.Health = server.HEALTH,
) -> None:
    """Run ``run_once`` until stopped: after ``start_up`` (and nearline's logging, as
    process ``name``), turn after turn, waiting what a turn asks (``interval_s`` when
    it says nothing) unless a stop comes first. ``ready``: the readiness reason to
    report once started; None when the work reports its own (the retry forwarder, on
    its partitions being assigned). ``stop``: set to stop; by default SIGTERM and SIGINT
    set it. An error from ``run_once`` ends the loop and is raised."""
    logs.setup(settings, name)
    start_up(settings, health)
    stop = stop if stop is not None else stop_on_signals()
    if ready is not None:
        health.set(True, ready)
    log.info("%s started", name)
    try:
        while not stop.is_set():
            wait = run_once()
            stop.wait(interval_s if wait is None else max(0.0, wait))
    finally:
        health.set(False, "stopping")
        log.info("%s stopping", name)
