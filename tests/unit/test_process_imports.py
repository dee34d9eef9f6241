"""A process loads the heavy clients it uses, not those of the modules it shares with
others (D207): the API and the carts worker read aggregates' members without the XRootD
client (about 8 MiB each), which only the processes that talk to tape load."""

from __future__ import annotations

import subprocess
import sys


def loaded(module: str, heavy: str) -> bool:
    """Whether importing ``module`` in a fresh interpreter imports ``heavy``."""
    code = f"import sys, {module}; print({heavy!r} in sys.modules)"
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert answer.returncode == 0, answer.stderr
    return answer.stdout.strip() == "True"


def test_no_xrootd_client_where_the_tape_is_not_used():
    assert not loaded("api.app, processors.carts.wiring", "XRootD")


def test_the_tape_client_still_loads_it():
    assert loaded("stores.tape.endpoint", "XRootD")
