"""``python -m stack up|down|status|install``: the local stack's commands.

``client-config java|librdkafka [PRINCIPAL]`` prints a client properties file that logs in
to the stack's Kafka (as ``admin`` by default), for Kafka's own tools (``--command-config``)
or kcat (``-F``). It holds a password: write it where only you can read it."""

from __future__ import annotations

import sys

import stack
from nearline.daemons import StackError
from nearline.kafka_access import ADMIN, as_principal
from nearline.settings import Settings
from stack import kafka, s3

FORMATS = ("java", "librdkafka")


def client_config(form: str, principal: str) -> str:
    """Properties that log in to the stack's Kafka as ``principal``."""
    kafka = as_principal(Settings(), principal).kafka
    if form == "librdkafka":
        config = kafka.client_config()
        return "\n".join(f"{key}={value}" for key, value in config.items())
    login = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required"
        f' username="{principal}" password="{kafka.password()}";'
    )
    return "\n".join(
        [
            f"security.protocol={kafka.security_protocol}",
            f"sasl.mechanism={kafka.sasl_mechanism}",
            f"sasl.jaas.config={login}",
        ]
    )


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    try:
        if command == "install":
            kafka.install()
            s3.install()
            print("kafka jars and S3 server are installed")
        elif command == "up":
            stack.up()
        elif command == "down":
            stack.down()
        elif command == "client-config" and len(argv) in (2, 3) and argv[1] in FORMATS:
            print(client_config(argv[1], argv[2] if len(argv) == 3 else ADMIN))
        elif command == "status":
            services = stack.status()
            for service in services:
                state = (
                    "healthy" if service.healthy else ("unhealthy" if service.pid else "stopped")
                )
                pid = service.pid or "-"
                print(f"  {service.name:10} {state:10} pid {pid!s:8} {service.endpoint}")
            return 0 if all(s.healthy for s in services) else 1
        else:
            print(
                f"unknown command {' '.join(argv)!r}: use install, up, down, status or "
                "client-config java|librdkafka [PRINCIPAL]",
                file=sys.stderr,
            )
            return 2
    except StackError as error:
        print(f"stack {command} failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
