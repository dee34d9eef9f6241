"""The RabbitMQ consumer: ``python -m processors.scicat_rabbitmq``.

For sites whose SciCat hands jobs over with its ``rabbitmq`` action: each job message
becomes the same ``ScicatJobReceived`` the ``url`` action's call records, and the
``scicat`` process does the job. Idle while ``scicat.rabbitmq_url`` is unset, and then not
started by default (``admin.processes.off``, D206). Wiring only.
"""

from __future__ import annotations

from nearline import bus
from nearline.settings import get_settings
from processors.runner import run_loop
from processors.scicat_rabbitmq.consumer import QueueConsumer


def main() -> None:
    settings = get_settings()
    consumer = QueueConsumer(settings.scicat, bus.producer(settings))
    try:
        run_loop("scicat-rabbitmq", settings, consumer.run_once, ready="consuming SciCat's jobs")
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
