"""Apache Kafka 4.x in KRaft mode (one broker+controller) from Apache's own jars, with
SASL on both listeners and ACLs (``stack.kafka_sasl``): only nearline's own
principals reach it."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from importlib import resources
from pathlib import Path

from nearline.daemons import Daemon, StackError, port_open, wait_until
from nearline.kafka_access import ADMIN, BROKER, as_principal
from nearline.settings import Settings
from stack import kafka_sasl
from stack.folders import private_file

KAFKA_VERSION = "4.1.1"


def cache_dir() -> Path:
    from stack.paths import cache_root

    return cache_root() / f"kafka-{KAFKA_VERSION}"


def classpath() -> str:
    return str(cache_dir() / "libs" / "*")


def install() -> None:
    """Resolve the broker and tool jars with their runtime dependencies, once."""
    libs = cache_dir() / "libs"
    if (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        return
    if not shutil.which("mvn"):
        raise StackError("Maven (mvn) is needed once to fetch Kafka's jars; install it first.")
    pom = resources.files("stack").joinpath("kafka-pom.xml")
    with resources.as_file(pom) as pom_path:
        subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(pom_path),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-Dkafka.version={KAFKA_VERSION}",
                f"-DoutputDirectory={libs}",
            ],
            check=True,
        )


# The embedded broker serves one machine's few dozen partitions: half a gigabyte of heap
# is plenty (the chaos tests' three-node cluster runs on as much per node), and a gigabyte
# made Kafka the largest process of the default install.
BROKER_HEAP = "512m"


def java_command(main_class: str, *args: str, heap: str = BROKER_HEAP) -> list[str]:
    return ["java", f"-Xmx{heap}", "-Xms128m", "-cp", classpath(), main_class, *args]


def write_config(settings: Settings, data: Path, run: Path, passwords: dict[str, str]) -> Path:
    """The broker's properties (with its SASL passwords: written private to root)."""
    ports = settings.ports
    props = run / "kafka.properties"
    private_file(
        props,
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{ports.kafka_controller}",
                f"listeners={kafka_sasl.CLIENT}://127.0.0.1:{ports.kafka},"
                f"CONTROLLER://127.0.0.1:{ports.kafka_controller}",
                f"advertised.listeners={kafka_sasl.CLIENT}://127.0.0.1:{ports.kafka}",
                "controller.listener.names=CONTROLLER",
                *kafka_sasl.broker_properties(passwords),
                f"log.dirs={data}",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                # Event topics are kept forever; the broker must never delete them by default.
                "log.retention.hours=-1",
                "",
            ]
        ),
    )
    log4j = run / "kafka-log4j2.xml"
    log4j.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="file" fileName="{run / "kafka-server.log"}">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka" level="INFO"/>
    <Logger name="org.apache.kafka" level="INFO"/>
    <Root level="WARN"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""
    )
    return props


def daemon(settings: Settings) -> Daemon:
    run = settings.home / "run"
    props = run / "kafka.properties"
    command = java_command("kafka.Kafka", str(props))
    command.insert(1, f"-Dlog4j2.configurationFile={run / 'kafka-log4j2.xml'}")
    return Daemon(name="kafka", command=command, run_dir=run)


def start(settings: Settings, passwords: dict[str, str]) -> bool:
    """Start the broker unless it runs, then make its SCRAM users and ACLs those of this
    code. False, changing nothing, when a broker started without SASL (by an older
    nearline) is running: ``stack-down`` and ``stack-up`` secure it, keeping its data."""
    install()
    data = settings.home / "kafka"
    run = settings.home / "run"
    bootstrap = f"127.0.0.1:{settings.ports.kafka}"
    broker = kafka_sasl.client_config(bootstrap, BROKER, passwords[BROKER])
    kafka = daemon(settings)
    running = kafka.pid() is not None
    unauthenticated = {"bootstrap.servers": bootstrap}
    if running and not kafka_sasl.answers(broker) and kafka_sasl.answers(unauthenticated):
        return False
    if not running:
        props = write_config(settings, data, run, passwords)
        if not (data / "meta.properties").exists():
            data.mkdir(mode=0o700, parents=True, exist_ok=True)
            subprocess.run(
                java_command(
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    str(uuid.uuid4()),
                    "-c",
                    str(props),
                    "--standalone",
                    heap="256m",
                ),
                check=True,
                capture_output=True,
            )
        kafka.start()
    wait_until(lambda: kafka_sasl.answers(broker), 90, "Kafka", run / "kafka-server.log")
    kafka_sasl.secure(bootstrap, passwords)
    admin = kafka_sasl.admin_config(bootstrap, passwords)
    wait_until(lambda: kafka_sasl.answers(admin), 30, "Kafka (SCRAM)", run / "kafka-server.log")
    return True


def healthy(settings: Settings) -> bool:
    """Whether the broker answers the stack's admin principal (or, on a stack whose
    clients do not use SASL yet, an unauthenticated client)."""
    if not port_open(settings.ports.kafka):
        return False
    return kafka_sasl.answers(as_principal(settings, ADMIN).kafka.client_config())


def stop(settings: Settings) -> None:
    daemon(settings).stop(timeout=60)
