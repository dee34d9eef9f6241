"""The processes' logic imports without settings: nothing reads them, or connects, when
a logic module is imported; only each ``__main__`` does, when it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

LOGIC = [
    "processors.runner",
    "processors.retry.schedule",
    "processors.retry.forwarder",
    "processors.indexer.worker",
    "processors.transfer_put.worker",
    "processors.transfer_get.worker",
    "processors.delete_objects.removal",
    "processors.archive_get.worker",
    "processors.evict.removal",
    "processors.archive_put.put",
    "processors.sweeper.schedule",
]

PROBE = """
import sys
import nearline.settings

def refuse(*_a, **_k):
    raise SystemExit("settings read at import time")

nearline.settings.get_settings = refuse
nearline.settings.Settings.__init__ = refuse
for name in sys.argv[1:]:
    __import__(name)
print("imported", len(sys.argv) - 1)
"""


def test_logic_modules_import_with_no_settings_in_the_environment(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEARLINE_")}
    env["HOME"] = str(tmp_path)  # no stack file to find either
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *LOGIC],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"imported {len(LOGIC)}"


def test_every_main_only_wires():
    """No ``__main__`` of these processes defines more than its ``wire``/``main``."""
    for folder in (
        "indexer",
        "transfer_put",
        "transfer_get",
        "delete_objects",
        "archive_get",
        "evict",
    ):
        text = (REPO / "processors" / folder / "__main__.py").read_text()
        defined = [line for line in text.splitlines() if line.startswith(("def ", "async def "))]
        assert defined == ["def wire(settings: Settings) -> faust.App:"], folder
