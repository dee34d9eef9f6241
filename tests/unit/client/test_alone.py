"""The client stands alone (D141): every module of client/ imports only the standard
library, client/ itself and the dependencies client/pyproject.toml declares, so that
`pip install ./client` is a working `nearline`. The import-linter contract "the client
imports nothing of the server" (make lint) checks the project's packages; these tests
check third-party imports too, and what importing every module really loads.
tests/integration/test_client_install.py installs it into a fresh venv."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from typer.testing import CliRunner

from client.cli import app
from client.cli import commands as _commands  # noqa: F401 (registers the commands)

ROOT = Path(__file__).resolve().parents[3]
SERVER = {
    *("domain", "events", "nearline", "stores", "processors", "projections", "api"),
    *("admin", "stack", "schemas", "faust", "sqlalchemy", "confluent_kafka", "fastapi"),
}
LOAD_ALL = r"""
import importlib, json, pkgutil, sys
before = set(sys.modules)
import client
for module in pkgutil.walk_packages(client.__path__, "client."):
    if not module.name.endswith(".__main__"):  # that one runs the command
        importlib.import_module(module.name)
loaded = {name.split(".")[0] for name in set(sys.modules) - before}
print(json.dumps(sorted(loaded - set(sys.stdlib_module_names) - {"client"})))
"""


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def _declared() -> list[str]:
    project = tomllib.loads((ROOT / "client" / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def _imported(source: Path) -> set[str]:
    """The top-level names a module imports, wherever in it (functions, TYPE_CHECKING)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_client_modules_import_only_the_client_and_its_declared_dependencies():
    declared = {_name(d) for d in _declared()}
    allowed = {"client", *sys.stdlib_module_names}
    allowed |= {
        module
        for module, owners in metadata.packages_distributions().items()
        if {_name(owner) for owner in owners} & declared
    }
    strays = {
        f"{source.relative_to(ROOT)}: {name}"
        for source in (ROOT / "client").rglob("*.py")
        if "build" not in source.relative_to(ROOT / "client").parts  # pip's, in the tree
        for name in _imported(source) - allowed
    }
    assert not strays, f"imports that client/pyproject.toml does not declare: {sorted(strays)}"


def test_importing_the_client_loads_nothing_of_the_server():
    shown = subprocess.run(
        [sys.executable, "-c", LOAD_ALL], cwd=ROOT, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    loaded = set(json.loads(shown.stdout))
    assert not loaded & SERVER, f"client/ loads server code: {sorted(loaded & SERVER)}"


def test_the_clients_dependencies_are_the_projects():
    """The client's own distribution asks for what the project's does, so that both
    install from requirements.lock."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(_declared()) <= set(project["dependencies"])


def test_nearline_admin_points_to_nearline_admin():
    runner = CliRunner()
    result = runner.invoke(app, ["admin", "lag", "--json"])
    assert result.exit_code == 2
    assert "nearline-admin lag --json" in result.output
    result = runner.invoke(app, ["events", "tail", "nearline.status", "-n", "1"])
    assert result.exit_code == 2
    assert "nearline-admin events tail nearline.status -n 1" in result.output
