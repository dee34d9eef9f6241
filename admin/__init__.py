"""Operators' tools behind ``nearline-admin``: they read Kafka and the catalog database
directly and need the deployment's settings, not a user's token."""
