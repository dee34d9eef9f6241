"""Operating nearline: structured logs, Prometheus metrics, health endpoints, and
consumer-group lag and liveness read from Kafka itself."""
