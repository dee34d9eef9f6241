"""SASL and ACLs for the stack's Kafka brokers (the single node and the failover cluster).

Clients authenticate with SCRAM-SHA-256 on the client listener; the broker's own traffic
(to its controller, and between brokers) uses SASL/PLAIN as ``broker``, the only user of
the PLAIN login module. The broker therefore never needs its own metadata to talk to
itself, and ``stack-up`` can log in as ``broker`` to create the SCRAM users of a broker
formatted before SASL (D92): an existing stack is upgraded in place, its log kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nearline import kafka_access
from nearline.kafka_access import ADMIN, BROKER

MECHANISM = "SCRAM-SHA-256"
PROTOCOL = "SASL_PLAINTEXT"
CLIENT = "CLIENT"
"""The name of the client listener (the controller's is CONTROLLER)."""


def _plain_login(password: str) -> str:
    # The broker logs in as ``broker`` and accepts only ``broker``: generated passwords
    # are URL-safe base64, so they need no quoting.
    return (
        "org.apache.kafka.common.security.plain.PlainLoginModule required"
        f' username="{BROKER}" password="{password}" user_{BROKER}="{password}";'
    )


def broker_properties(passwords: Mapping[str, str]) -> list[str]:
    """server.properties lines: SASL on both listeners, the StandardAuthorizer denying
    whatever no ACL allows, and the super users."""
    login = _plain_login(passwords[BROKER])
    client = CLIENT.lower()
    return [
        f"listener.security.protocol.map=CONTROLLER:{PROTOCOL},{CLIENT}:{PROTOCOL}",
        f"inter.broker.listener.name={CLIENT}",
        "sasl.mechanism.inter.broker.protocol=PLAIN",
        "sasl.mechanism.controller.protocol=PLAIN",
        f"listener.name.{client}.sasl.enabled.mechanisms={MECHANISM},PLAIN",
        f"listener.name.{client}.scram-sha-256.sasl.jaas.config="
        "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        f"listener.name.{client}.plain.sasl.jaas.config={login}",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        f"listener.name.controller.plain.sasl.jaas.config={login}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        "super.users=" + ";".join(f"User:{user}" for user in kafka_access.SUPER_USERS),
    ]


def client_config(bootstrap: str, user: str, password: str) -> dict[str, Any]:
    """librdkafka settings of a stack tool logging in as ``user`` (PLAIN for ``broker``)."""
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": PROTOCOL,
        "sasl.mechanism": "PLAIN" if user == BROKER else MECHANISM,
        "sasl.username": user,
        "sasl.password": password,
    }


def answers(config: Mapping[str, Any], timeout: float = 3) -> bool:
    """Whether a broker answers a metadata request made with ``config``."""
    from confluent_kafka.admin import AdminClient

    try:
        # Quiet: a broker still starting refuses connections, which is no news here.
        metadata = AdminClient({**config, "log_level": 0}).list_topics(timeout=timeout)
    except Exception:
        return False
    return bool(metadata.brokers)


def secure(bootstrap: str, passwords: Mapping[str, str]) -> None:
    """Create (or reset) every principal's SCRAM credential and make the ACLs those of
    ``nearline.kafka_access``; idempotent, so every ``stack-up`` converges."""
    from confluent_kafka.admin import AdminClient

    client = AdminClient(client_config(bootstrap, BROKER, passwords[BROKER]))
    users = {user: password for user, password in passwords.items() if user != BROKER}
    kafka_access.upsert_scram_users(client, users)
    kafka_access.apply_acls(client)


def admin_config(bootstrap: str, passwords: Mapping[str, str]) -> dict[str, Any]:
    return client_config(bootstrap, ADMIN, passwords[ADMIN])
