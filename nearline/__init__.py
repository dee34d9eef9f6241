"""nearline: a near-line data store for scientific data, event-sourced on Apache Kafka."""

__version__ = "0.1.0"
