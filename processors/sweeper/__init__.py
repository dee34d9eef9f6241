"""The periodic passes over the catalog projection: the archive sweep and the eviction
policy. Each pass reads the projection and sends events; the decider decides."""
