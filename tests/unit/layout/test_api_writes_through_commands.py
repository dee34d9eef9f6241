"""Every event the API writes is built in ``api/commands.py`` (the token families of
``api/auth/families.py`` are auth's own topic): a route that built one itself would
bypass the checks the command layer makes."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

from events.base import Event

API = Path(__file__).resolve().parents[3] / "api"
WRITERS = {API / "commands.py", API / "auth" / "families.py"}


def events_built(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("events"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                found = getattr(module, alias.name, None)
                if inspect.isclass(found) and issubclass(found, Event):
                    imported[alias.asname or alias.name] = alias.name
    return {
        imported[node.func.id]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in imported
    }


def test_only_the_command_layer_builds_events():
    builders = {
        str(path.relative_to(API.parent)): built
        for path in API.rglob("*.py")
        if path not in WRITERS and (built := events_built(path))
    }
    assert builders == {}


def test_the_check_sees_the_command_layer_building_them():
    assert {"CartRequested", "CartDeleteRequested", "CartDownloaded"} <= events_built(
        API / "commands.py"
    )
