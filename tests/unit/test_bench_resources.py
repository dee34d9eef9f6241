"""bench/resources.py counts the stack's processes, not the bench that measures them:
both carry NEARLINE_HOME, and the bench's own interpreter (sqlalchemy, the admin code)
would otherwise be reported as about 100 MiB of nearline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MEASURE = """
import os, subprocess, sys, time
from pathlib import Path
from bench.resources import stack_rss
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
try:
    time.sleep(0.5)
    page = os.sysconf("SC_PAGE_SIZE")
    alone = int(Path(f"/proc/{child.pid}/statm").read_text().split()[1]) * page
    print(stack_rss(Path(os.environ["NEARLINE_HOME"])).get("nearline", 0) == alone)
finally:
    child.kill()
"""


def test_the_bench_itself_is_not_counted_as_the_stack(tmp_path):
    """A process measuring a home it shares counts its child (a stand-in for a stack
    process), not itself."""
    answer = subprocess.run(
        [sys.executable, "-c", MEASURE],
        env=os.environ | {"NEARLINE_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "True"
