"""The retry forwarder process: ``python -m processors.retry``.

Wiring only: the settings, the forwarder's consumer (group ``nearline-retry``) and
producer, and the runner's loop (``processors.runner.run_loop``), which gets readiness
from the forwarder's partitions and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

from nearline import bus
from nearline.settings import get_settings
from processors.retry.forwarder import GROUP, Forwarder
from processors.runner import run_loop


def main() -> None:
    settings = get_settings()
    with Forwarder(bus.consumer(settings, GROUP), bus.producer(settings)) as forwarder:
        run_loop("retry", settings, forwarder.run_once)


if __name__ == "__main__":
    main()
