"""The three ways to run nearline name the same processes with the same commands:
``admin.processes`` (which ``nearline-admin serve`` runs), the systemd units of
deploy/systemd and docker/compose.yaml."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from admin import processes
from nearline.settings import ServeSettings

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
COMPOSE = ROOT / "docker" / "compose.yaml"
INFRASTRUCTURE = {"kafka", "postgres", "s3", "xrootd"}
PYTHON = "/opt/nearline/.venv/bin/python"


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file's settings by section, each key with all its values in order."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, value = line.split("=", 1)
            current.setdefault(key, []).append(value)
    return sections


def templates() -> dict[str, Path]:
    return {
        match.group(1): path
        for path in sorted(UNITS.glob("nearline-*@.service"))
        if (match := re.fullmatch(r"nearline-(.+)@\.service", path.name))
    }


def test_compose_systemd_and_the_process_list_name_the_same_processes():
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    in_compose = set(compose) - INFRASTRUCTURE - {"init"}
    kinds = {processes.kind(name) for name in processes.PROCESSES}
    assert kinds == set(processes.KINDS)
    assert set(templates()) == kinds
    assert in_compose == kinds
    for kind, args in processes.KINDS.items():
        assert compose[kind]["command"] == args


@pytest.mark.parametrize("kind", sorted(processes.KINDS))
def test_each_unit_runs_its_process_as_its_own_principal_and_restarts(kind):
    service = unit(templates()[kind])["Service"]
    assert service["Type"] == ["simple"]
    assert service["ExecStart"] == [" ".join([PYTHON, *processes.KINDS[kind]])]
    assert service["Environment"][0] == f"NEARLINE_KAFKA__SASL_USERNAME={processes.principal(kind)}"
    assert service["EnvironmentFile"] == ["/etc/nearline/nearline.env", f"/etc/nearline/{kind}.env"]
    assert service["Restart"] == ["always"] and service["KillMode"] == ["mixed"]
    assert int(service["TimeoutStopSec"][0]) >= 60


def test_the_target_starts_one_unit_per_process_of_the_list():
    wanted = unit(UNITS / "nearline.target")["Unit"]["Wants"][0].split()
    expected = []
    for name in processes.PROCESSES:
        kind = processes.kind(name)
        number = "8080" if kind == "api" else (name.removeprefix(kind).lstrip("-") or "1")
        expected.append(f"nearline-{kind}@{number}.service")
    assert wanted == expected
    for path in templates().values():
        assert unit(path)["Install"]["WantedBy"] == ["nearline.target"]


def test_the_single_unit_runs_the_supervisor_and_gives_it_time_to_stop_its_children():
    serve = unit(UNITS / "nearline-serve.service")
    assert serve["Service"]["ExecStart"] == ["/opt/nearline/.venv/bin/nearline-admin serve"]
    assert serve["Service"]["Type"] == ["simple"]
    assert serve["Service"]["KillMode"] == ["mixed"]  # SIGTERM to the supervisor alone
    assert int(serve["Service"]["TimeoutStopSec"][0]) > ServeSettings().stop_timeout_s
    assert serve["Unit"]["Conflicts"] == ["nearline.target"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["nearline-admin"] == "admin.app:main"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_every_unit(tmp_path):
    """``systemd-analyze verify`` of each unit, with stand-ins for the installed files."""
    names = []
    for path in UNITS.iterdir():
        text = re.sub(r"/opt/nearline/\.venv/bin/\S+", "/bin/true", path.read_text())
        if path.name.endswith("@.service"):
            name = path.name.replace("@.", "@8080." if "api" in path.name else "@1.")
        else:
            name = path.name
        (tmp_path / name).write_text(text)
        names.append(name)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    problems = [
        line
        for line in result.stderr.splitlines()
        if "/etc/nearline/" not in line and "User=nearline" not in line
    ]
    assert result.returncode == 0 and not problems, result.stderr
