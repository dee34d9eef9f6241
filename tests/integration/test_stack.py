"""The local stack: every service healthy, and starting it again changes nothing."""

from __future__ import annotations

import stack


def test_every_service_is_healthy(settings):
    services = {s.name: s for s in stack.status(settings)}
    assert set(services) == {"kafka", "s3", "postgres", "xrootd"}
    assert all(s.healthy and s.pid for s in services.values()), services


def test_starting_a_running_stack_again_is_harmless(settings):
    before = {s.name: s.pid for s in stack.status(settings)}
    stack.up(settings, log=lambda _line: None)
    after = {s.name: s.pid for s in stack.status(settings)}
    assert after == before
