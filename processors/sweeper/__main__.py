"""The sweeper process: ``python -m processors.sweeper``.

Runs the archive sweep every ``archive.sweep_interval_s`` seconds, the eviction policy
every ``eviction.interval_s`` seconds and aborts abandoned multipart uploads every
``s3.stale_upload_sweep_s`` seconds, until it is stopped. A pass that fails (the
database or the broker unreachable) is logged and tried again at its next turn.

Wiring only: the settings, the catalog projection through its port (D140), a producer,
and the runner's loop (``processors.runner.run_loop``) turning ``Sweeper.run_once``.
"""

from __future__ import annotations

from nearline import bus
from nearline.settings import get_settings
from processors.runner import run_loop
from processors.sweeper.schedule import Sweeper
from processors.sweeper.wiring import catalog_reads


def main() -> None:
    settings = get_settings()
    sweeper = Sweeper(settings, catalog_reads(settings), bus.producer(settings))
    run_loop("sweeper", settings, sweeper.run_once, ready="sweeping on schedule")


if __name__ == "__main__":
    main()
