"""docker/compose.yaml and docker/Dockerfile hold together: every nearline process has a
service that runs its real command, every NEARLINE_* variable names a real setting, the
image is Python 3.11 slim and runs as a non-root user, and processors can be scaled."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from admin.processes import PROCESSES
from nearline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
INFRASTRUCTURE = {"kafka", "postgres", "s3", "xrootd"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def nearline_services(compose: dict) -> dict[str, dict]:
    return {n: s for n, s in compose["services"].items() if n not in INFRASTRUCTURE}


def is_setting(variable: str) -> bool:
    """Whether ``NEARLINE_A__B`` names the field ``a.b`` of the settings."""
    model: type[BaseModel] = Settings
    parts = variable.removeprefix("NEARLINE_").lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif i != len(parts) - 1:
            return False
    return True


def test_the_services_are_the_stack_and_each_nearline_process(compose):
    images = {n: compose["services"][n].get("image", "") for n in INFRASTRUCTURE}
    assert images["kafka"].startswith("apache/kafka:")
    assert images["postgres"].startswith("postgres:")
    assert images["s3"].startswith("versity/versitygw:")
    assert compose["services"]["xrootd"]["build"]["target"] == "xrootd"
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper

    commands = {tuple(service["command"]) for service in nearline_services(compose).values()}
    # Each process of admin/processes.py runs (instances are scaled, not listed).
    assert {tuple(command) for command in PROCESSES.values()} <= commands
    allowed = {tuple(c) for c in PROCESSES.values()} | {("-m", "admin.deploy", "init")}
    assert commands <= allowed


def test_every_variable_names_a_setting(compose):
    assert is_setting("NEARLINE_S3__SECRET_KEY") and not is_setting("NEARLINE_S3__SECRET")
    for name, service in nearline_services(compose).items():
        assert service["image"] == "nearline:latest"
        for variable in service["environment"]:
            assert is_setting(variable), f"{name}: {variable} is no setting"
    text = DOCKERFILE.read_text()
    for variable in re.findall(r"\b(NEARLINE_[A-Z_]+)=", text):
        assert is_setting(variable), f"Dockerfile: {variable} is no setting"


def test_processors_scale_and_stop_gracefully(compose):
    for name, service in nearline_services(compose).items():
        if name in ("api", "init"):
            continue
        # A fixed host port or container name would stop a second instance from starting.
        assert "ports" not in service and "container_name" not in service, name
        assert service["stop_grace_period"]


def test_the_image_is_python_slim_and_not_root():
    text = DOCKERFILE.read_text()
    final = text.rsplit("\nFROM ", 1)[1]
    assert final.startswith("python:3.11-slim AS nearline")
    users = re.findall(r"^USER (\S+)$", final, re.M)
    assert users and users[-1] not in ("root", "0")
    # Every package a production install runs, from the import walls' list; not the
    # local stack, which no production code imports (a contract of pyproject.toml).
    walls = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    packages = set(walls["root_packages"]) - {"stack"}
    for folder in sorted(packages | {"schemas"}):
        assert f"COPY {folder} /opt/nearline/{folder}" in final
    assert "COPY stack" not in final


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_accepts_the_file():
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
