"""The import walls of pyproject.toml hold: one import across each wall, added to a copy
of the code, makes ``lint-imports`` report that wall's contract broken."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PACKAGES = (
    "domain", "events", "nearline", "stores", "processors", "projections", "api", "admin",
    "stack", "client",
)  # fmt: skip
# One forbidden import per contract, by the contract's name (its start).
PROBES = {
    "domain is pure": ("domain", "import events"),
    "events take their words": ("events", "import nearline"),
    "the kernel": ("nearline", "import stores"),
    "storage adapters": ("stores", "import processors"),
    "processors reach the read model": ("processors.indexer", "import projections.tables"),
    "projections are the read side": ("projections", "import api"),
    "the API writes events": ("api.v1", "import processors.catalog"),
    "a production install needs no local stack": ("admin", "import stack"),
    "the client imports nothing": ("client.library", "import events"),
}


def lint_imports(root: Path) -> dict[str, str]:
    """Each contract's name and verdict (KEPT or BROKEN)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=root,
        env=os.environ | {"PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    # A contract with ignore_imports says how many after its verdict.
    verdicts = dict(
        re.findall(r"^(.+?) (KEPT|BROKEN)(?: \(\d+ ignored imports?\))?$", result.stdout, re.M)
    )
    assert verdicts, result.stdout + result.stderr
    return verdicts


def test_one_import_across_each_wall_breaks_its_contract(tmp_path):
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    for where, statement in PROBES.values():
        (tmp_path.joinpath(*where.split(".")) / "_probe.py").write_text(statement + "\n")

    verdicts = lint_imports(tmp_path)

    for start in PROBES:
        (name,) = [n for n in verdicts if n.startswith(start)]
        assert verdicts[name] == "BROKEN", name
    assert len(verdicts) == len(PROBES), "a contract without a probe: add one"
