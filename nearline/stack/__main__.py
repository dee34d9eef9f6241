"""``python -m nearline.stack up|down|status|install``: the local stack's commands."""

from __future__ import annotations

import sys

from nearline import stack
from nearline.stack import kafka, s3
from nearline.stack.process import StackError


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
            print(f"unknown command {command!r}: use install, up, down or status", file=sys.stderr)
            return 2
    except StackError as error:
        print(f"stack {command} failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
