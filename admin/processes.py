"""nearline's own processes on one machine: the decider, the workers, the projections and
the API, each a background process with a pid file and a log under ``$NEARLINE_HOME/run``.

In production each runs as its own service (docker/compose.yaml, deploy/systemd/) or under
``nearline-admin serve`` (admin.supervisor); ``start``/``stop`` are for the tests and benches.
``command`` and ``environment`` are the one definition of how a process is started: every
way of running it uses them.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable

from nearline.daemons import Daemon
from nearline.settings import Settings


def faust_worker(module: str) -> list[str]:
    return ["-m", module, "worker", "--without-web", "-l", "info"]


PROCESSES: dict[str, list[str]] = {
    "catalog": faust_worker("processors.catalog"),
    "indexer": faust_worker("processors.indexer"),
    # Uploads are the slow step of a PUT: two workers share the transfer-put partitions,
    # so that consecutive sub-batches of one transaction upload at the same time.
    "transfer-put": faust_worker("processors.transfer_put"),
    "transfer-put-2": faust_worker("processors.transfer_put"),
    # GETs restore their sub-batches (keyed by transaction/sub-batch) in parallel too.
    "transfer-get": faust_worker("processors.transfer_get"),
    "transfer-get-2": faust_worker("processors.transfer_get"),
    "delete-objects": faust_worker("processors.delete_objects"),
    "carts": faust_worker("processors.carts"),
    # SciCat's archive and retrieve jobs; not started while SciCat is off (``off``).
    "scicat": faust_worker("processors.scicat"),
    # Jobs from SciCat's rabbitmq action; not started without scicat.rabbitmq_url.
    "scicat-rabbitmq": ["-m", "processors.scicat_rabbitmq"],
    "archive-put": faust_worker("processors.archive_put"),
    # Recalls from tape (archive-get), keyed by aggregate: each is staged once.
    "archive-get": faust_worker("processors.archive_get"),
    "evict": faust_worker("processors.evict"),
    "sweeper": ["-m", "processors.sweeper"],
    # Sends records set aside by system errors back to their topic when due.
    "retry": ["-m", "processors.retry"],
    "projections": ["-m", "projections"],
    "api": ["-m", "api"],
}


def off(settings: Settings) -> dict[str, str]:
    """The kinds of process whose feature ``settings`` leave off, each with why: they are
    not started by default (``start``, ``nearline-admin serve``), where they would only
    hold memory (about 180 MiB for the two of SciCat). Named explicitly, they still run."""
    rabbitmq = bool(settings.scicat.rabbitmq_url.get_secret_value())
    kinds = {}
    if not (settings.scicat.enabled or rabbitmq):
        kinds["scicat"] = "SciCat is off (scicat.enabled and scicat.rabbitmq_url unset)"
    if not rabbitmq:
        kinds["scicat-rabbitmq"] = "scicat.rabbitmq_url is empty"
    return kinds


def kind(name: str) -> str:
    """What a process is: ``transfer-put-2`` (or any ``-N``) is another ``transfer-put``."""
    return re.sub(r"-[0-9]+$", "", name)


KINDS: dict[str, list[str]] = {kind(name): args for name, args in PROCESSES.items()}
"""Each kind of process once, with its arguments: the units of deploy/systemd and the
services of docker/compose.yaml."""


def instance(kind_: str, number: int) -> str:
    """The name of a kind's ``number``-th instance (1-based): ``transfer-put``, ``-2``..."""
    return kind_ if number == 1 else f"{kind_}-{number}"


def principal(name: str) -> str:
    """The Kafka principal a process logs in as: its kind, whose ACLs allow only what that
    kind does (nearline.kafka_access)."""
    return kind(name)


def command(name: str) -> list[str]:
    """The command line of the process ``name`` (any instance of a kind)."""
    return [sys.executable, *KINDS[kind(name)]]


def environment(settings: Settings, name: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """What a process gets on top of its parent's environment."""
    return {
        "NEARLINE_HOME": str(settings.home),
        # The name only: the process reads its password from the stack file.
        "NEARLINE_KAFKA__SASL_USERNAME": principal(name),
        **(env or {}),
    }


def daemon(settings: Settings, name: str, env: dict[str, str] | None = None) -> Daemon:
    return Daemon(
        name=f"nearline-{name}",
        command=command(name),
        run_dir=settings.home / "run",
        env=environment(settings, name, env),
    )


def start(
    settings: Settings,
    names: list[str] | None = None,
    env: dict[str, str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, int]:
    """Start the named processes that are not running; by default all of them but those
    whose feature is ``off``."""
    pids = {}
    skipped = {} if names else off(settings)
    for name in names or list(PROCESSES):
        if kind(name) in skipped:
            log(f"  {name:13} not started: {skipped[kind(name)]}")
            continue
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
