"""The client is its own distribution (D141): `pip install ./client` into a fresh venv,
with the project's locked versions, gives a working `nearline` and no server package
nor the server's dependencies. Needs no stack, but the package index (PyPI or the
site's mirror) for typer, rich and httpx: about 20 s."""

from __future__ import annotations

import shutil
import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pip_install_client_gives_nearline_without_the_server(tmp_path: Path):
    # A copy, so that the build leaves nothing in the checkout (pip builds in the tree).
    source = tmp_path / "client"
    shutil.copytree(
        ROOT / "client", source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    home = tmp_path / "venv"
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "-c", ROOT / "requirements.lock", source],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    # Away from the checkout, so that nothing is imported from it.
    helped = subprocess.run(
        [home / "bin" / "nearline", "--help"], cwd=tmp_path, capture_output=True, text=True
    )
    assert helped.returncode == 0, helped.stderr
    assert "Put files into nearline holdings" in helped.stdout

    for module in ("faust", "sqlalchemy", "confluent_kafka", "nearline", "admin", "api"):
        tried = subprocess.run(
            [python, "-c", f"import {module}"], cwd=tmp_path, capture_output=True, text=True
        )
        assert tried.returncode != 0, f"{module} is importable in the client's venv"
        assert f"No module named '{module}'" in tried.stderr

    library = subprocess.run(
        [python, "-c", "from client.library import Client; print(Client.__name__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert library.stdout.strip() == "Client", library.stderr

    # An operator command typed out of habit says where it went.
    moved = subprocess.run(
        [home / "bin" / "nearline", "admin", "lag"], cwd=tmp_path, capture_output=True, text=True
    )
    assert moved.returncode == 2 and "nearline-admin lag" in moved.stderr
