"""nearline's own processes on one machine: the decider, the workers, the projections and
the API, each a background process with a pid file and a log under ``$NEARLINE_HOME/run``.

In production each runs as its own service (see docker/); this is for the demo, the tests
and a single-machine installation.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from nearline.settings import Settings
from nearline.stack.process import Daemon


def faust_worker(module: str) -> list[str]:
    return ["-m", module, "worker", "--without-web", "-l", "info"]


PROCESSES: dict[str, list[str]] = {
    "catalog": faust_worker("processors.catalog"),
    "indexer": faust_worker("processors.indexing"),
    # Uploads are the slow step of a PUT: two workers share the transfer-put partitions,
    # so that consecutive sub-batches of one transaction upload at the same time.
    "transfer-put": faust_worker("processors.transfer"),
    "transfer-put-2": faust_worker("processors.transfer"),
    # GETs restore their sub-batches (keyed by transaction/sub-batch) in parallel too.
    "transfer-get": faust_worker("processors.transfer_get"),
    "transfer-get-2": faust_worker("processors.transfer_get"),
    "delete-objects": faust_worker("processors.deletion"),
    "carts": faust_worker("processors.carts"),
    "archive-put": faust_worker("processors.archive"),
    # Recalls from tape (archive-get), keyed by aggregate: each is staged once.
    "archive-get": faust_worker("processors.recall"),
    "evict": faust_worker("processors.eviction"),
    "sweeper": ["-m", "processors.sweeper"],
    # Sends records set aside by system errors back to their topic when due.
    "retry": ["-m", "processors.retry"],
    "projections": ["-m", "projections"],
    "api": ["-m", "api"],
}


def principal(name: str) -> str:
    """The Kafka principal a process logs in as: its kind (``transfer-put-2`` is a
    ``transfer-put``), whose ACLs allow only what that kind does (nearline.kafka_access)."""
    return name.removesuffix("-2")


def daemon(settings: Settings, name: str, env: dict[str, str] | None = None) -> Daemon:
    return Daemon(
        name=f"nearline-{name}",
        command=[sys.executable, *PROCESSES[name]],
        run_dir=settings.home / "run",
        env={
            "NEARLINE_HOME": str(settings.home),
            # The name only: the process reads its password from the stack file.
            "NEARLINE_KAFKA__SASL_USERNAME": principal(name),
            **(env or {}),
        },
    )


def start(
    settings: Settings,
    names: list[str] | None = None,
    env: dict[str, str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, int]:
    """Start the named processes (all by default) that are not running."""
    pids = {}
    for name in names or list(PROCESSES):
        pids[name] = daemon(settings, name, env).start()
        log(f"  {name:13} pid {pids[name]}")
    return pids


def stop(settings: Settings, names: list[str] | None = None) -> None:
    for name in names or list(PROCESSES):
        daemon(settings, name).stop(timeout=30)


def running(settings: Settings) -> dict[str, int | None]:
    return {name: daemon(settings, name).pid() for name in PROCESSES}


def wait_for_exit(settings: Settings, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(running(settings).values()):
        time.sleep(0.2)
