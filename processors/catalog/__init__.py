"""The catalog decider: the one writer of catalog facts, keyed by user."""
