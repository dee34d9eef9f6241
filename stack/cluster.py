"""A three-node Kafka cluster in KRaft mode (each node a broker and a controller voter)
for failover tests: topics replicated three times with ``min.insync.replicas=2``, so one
node can be killed and restarted while producers and consumers carry on.

It runs from the same cached jars as the single-broker stack, on its own ports and data
folders, beside the stack rather than instead of it, and when the stack's clients log in
(SASL), it takes the same principals, passwords and ACLs.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nearline.daemons import Daemon, port_open, wait_until
from nearline.kafka_access import BROKER
from nearline.settings import Settings
from stack import kafka_sasl
from stack.folders import private_file
from stack.kafka import install, java_command


@dataclass(frozen=True)
class Node:
    node_id: int
    port: int
    controller_port: int


class Cluster:
    """Three nodes on ``base_port`` + 0..5 (client and controller port of each)."""

    def __init__(
        self, home: Path, base_port: int, passwords: Mapping[str, str] | None = None
    ) -> None:
        """``passwords``: of each principal; by default the stack's, if its clients log in."""
        self.home = home
        self.nodes = [Node(n, base_port + 2 * (n - 1), base_port + 2 * n - 1) for n in (1, 2, 3)]
        if passwords is None:
            kafka = Settings().kafka
            stack = {user: secret.get_secret_value() for user, secret in kafka.passwords.items()}
            passwords = stack if kafka.sasl_mechanism else {}
        self.passwords = dict(passwords)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self) -> None:
        install()
        cluster_id = self._cluster_id()
        for node in self.nodes:
            props = self._configure(node)
            if not (self._data(node) / "meta.properties").exists():
                self._data(node).mkdir(parents=True, exist_ok=True)
                format_storage = java_command(
                    "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props),
                    heap="256m",
                )  # fmt: skip
                subprocess.run(format_storage, check=True, capture_output=True)
        # All at once: no node serves clients before a majority of voters has elected a
        # controller leader.
        for node in self.nodes:
            self.daemon(node).start()
        for node in self.nodes:
            self._wait(node)
        if self.passwords:
            servers, password = self.bootstrap_servers, self.passwords[BROKER]
            broker = kafka_sasl.client_config(servers, BROKER, password)
            first = self.nodes[0]
            wait_until(lambda: kafka_sasl.answers(broker), 90, "Kafka cluster", self._log(first))
            kafka_sasl.secure(servers, self.passwords)

    def start_node(self, node_id: int) -> None:
        node = self._node(node_id)
        self.daemon(node).start()
        self._wait(node)

    def _wait(self, node: Node) -> None:
        wait_until(lambda: port_open(node.port), 90, f"Kafka node {node.node_id}", self._log(node))

    def kill_node(self, node_id: int) -> None:
        """Kill a node at once (SIGKILL), as a crash would."""
        self.daemon(self._node(node_id)).kill()

    def stop(self) -> None:
        for node in self.nodes:
            self.daemon(node).stop(timeout=60)

    def daemon(self, node: Node) -> Daemon:
        run = self._run()
        command = java_command(
            "kafka.Kafka", str(run / f"node{node.node_id}.properties"), heap="512m"
        )
        command.insert(1, f"-Dlog4j2.configurationFile={run / f'node{node.node_id}-log4j2.xml'}")
        return Daemon(name=f"kafka-node{node.node_id}", command=command, run_dir=run)

    def _configure(self, node: Node) -> Path:
        run = self._run()
        run.mkdir(parents=True, exist_ok=True)
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        props = run / f"node{node.node_id}.properties"
        private_file(
            props,
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={node.node_id}",
                    f"controller.quorum.voters={voters}",
                    f"listeners={self._listener}://127.0.0.1:{node.port},"
                    f"CONTROLLER://127.0.0.1:{node.controller_port}",
                    f"advertised.listeners={self._listener}://127.0.0.1:{node.port}",
                    "controller.listener.names=CONTROLLER",
                    *self._security(),
                    f"log.dirs={self._data(node)}",
                    "default.replication.factor=3",
                    "min.insync.replicas=2",
                    "offsets.topic.replication.factor=3",
                    "transaction.state.log.replication.factor=3",
                    "transaction.state.log.min.isr=2",
                    "share.coordinator.state.topic.replication.factor=3",
                    "share.coordinator.state.topic.min.isr=2",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "unclean.leader.election.enable=false",
                    "log.retention.hours=-1",
                    "",
                ]
            ),
        )
        (run / f"node{node.node_id}-log4j2.xml").write_text(
            f"""<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="file" fileName="{self._log(node)}">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers><Root level="WARN"><AppenderRef ref="file"/></Root></Loggers>
</Configuration>
"""
        )
        return props

    @property
    def _listener(self) -> str:
        return kafka_sasl.CLIENT if self.passwords else "PLAINTEXT"

    def _security(self) -> list[str]:
        if self.passwords:
            return kafka_sasl.broker_properties(self.passwords)
        return [
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
        ]

    def _cluster_id(self) -> str:
        saved = self.home / "cluster-id"
        if not saved.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            # KRaft cluster ids are 16 bytes in URL-safe base64 without padding.
            import base64

            saved.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        return saved.read_text()

    def _node(self, node_id: int) -> Node:
        return next(node for node in self.nodes if node.node_id == node_id)

    def _run(self) -> Path:
        return self.home / "run"

    def _data(self, node: Node) -> Path:
        return self.home / f"node{node.node_id}"

    def _log(self, node: Node) -> Path:
        return self._run() / f"node{node.node_id}.log"
