"""Projections: tables materialised from the event log, rebuilt by replaying it."""
