"""A real SciCat beside the local stack: scicat-backend-next built from its source with
npm, on FerretDB (a MongoDB wire-compatible server built with Go, on SQLite), so that
nearline's SciCat archive system is tested against SciCat itself (decision D170).

``python -m stack.scicat install`` fetches and builds both (once; needs git, Node 20 with
npm, and Go), ``up`` starts them and a RabbitMQ broker (Debian's ``rabbitmq-server``) with
a job configuration whose ``url`` action calls nearline's ``/scicat/jobs`` (``up
rabbitmq``: whose ``rabbitmq`` action publishes the jobs instead), ``down`` stops them,
``status`` says whether SciCat answers.

Everything lives under ``$NEARLINE_HOME/scicat``: the sources, the builds, the data, the
generated passwords (``secrets.json``, 0600) and the logs. Ports follow the stack's:
SciCat on the S3 port + 96, FerretDB on + 97, RabbitMQ on + 98 (its Erlang ports + 95
and + 99), all on the loopback.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from nearline.daemons import Daemon, StackError, port_open, wait_until
from nearline.settings import Settings, get_settings

SCICAT_GIT = "https://github.com/SciCatProject/scicat-backend-next"
SCICAT_COMMIT = "4055c96270f7f11cecc1abbe6839fb6f96e73f88"  # v4.5.0 era, jobs v4
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
FERRETDB_VERSION = "v1.24.0"  # the last line with an SQLite backend and no PostgreSQL extension

ARCHIVE_ACCOUNT = "archiveManager"  # SciCat's functional account nearline works as
INGESTOR_ACCOUNT = "ingestor"  # the tests' and the demo's data owner in SciCat
ARCHIVE_GROUP = "archivemanager"

JOB_ACTION = {
    "actionType": "url",
    "url": "{{{env.NEARLINE_URL}}}/scicat/jobs",
    "method": "POST",
    "headers": {
        "Content-Type": "application/json",
        "Authorization": "Bearer {{{env.NEARLINE_SCICAT_TOKEN}}}",
    },
    "body": '{"id": "{{{job.id}}}", "type": "{{{job.type}}}"}',
}


RABBITMQ_EXCHANGE = "scicat.jobs"
RABBITMQ_QUEUE = "nearline-scicat-jobs"
RABBITMQ_ACTION = {
    "actionType": "rabbitmq",
    "exchange": RABBITMQ_EXCHANGE,
    "queue": RABBITMQ_QUEUE,
    "key": "jobs.write",
}
RABBITMQ_USER = "guest"  # RabbitMQ's own account, which it takes from the loopback only


def job_configuration(action: str = "url") -> dict:
    """SciCat's jobs v4 configuration: archive and retrieve jobs validated as SciCat's
    recommended configuration does, then handed to nearline by the ``url`` action (or
    published by the ``rabbitmq`` action, on create and on update)."""

    def job(job_type: str, create_auth: str, flag: str) -> dict:
        validate = {
            "actionType": "validate",
            "datasets": {f"datasetlifecycle.{flag}": {"const": True}},
        }
        if action == "url":
            return {
                "jobType": job_type,
                "create": {"auth": create_auth, "actions": [validate, JOB_ACTION]},
                "update": {"auth": ARCHIVE_GROUP},
            }
        return {
            "jobType": job_type,
            "create": {"auth": create_auth, "actions": [validate, RABBITMQ_ACTION]},
            "update": {"auth": ARCHIVE_GROUP, "actions": [RABBITMQ_ACTION]},
        }

    return {
        "configVersion": "nearline",
        "jobs": [
            job("archive", "#datasetOwner", "archivable"),
            job("retrieve", "#datasetAccess", "retrievable"),
        ],
    }


def root(settings: Settings) -> Path:
    return settings.home / "scicat"


def scicat_port(settings: Settings) -> int:
    return settings.ports.s3 + 96


def ferretdb_port(settings: Settings) -> int:
    return settings.ports.s3 + 97


def rabbitmq_port(settings: Settings) -> int:
    return settings.ports.s3 + 98


def epmd_port(settings: Settings) -> int:
    return settings.ports.s3 + 95


def rabbitmq_url(settings: Settings) -> str:
    return f"amqp://{RABBITMQ_USER}:{RABBITMQ_USER}@127.0.0.1:{rabbitmq_port(settings)}/%2F"


def url(settings: Settings) -> str:
    return f"http://127.0.0.1:{scicat_port(settings)}"


def secret_values(settings: Settings) -> dict[str, str]:
    """The generated passwords and nearline's job token, made once."""
    path = root(settings) / "secrets.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        values = {
            "archive_password": secrets.token_urlsafe(16),
            "ingestor_password": secrets.token_urlsafe(16),
            "admin_password": secrets.token_urlsafe(16),
            "job_token": secrets.token_urlsafe(32),
            "jwt_secret": secrets.token_urlsafe(32),
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(values))
    return json.loads(path.read_text())


def nearline_env(settings: Settings) -> dict[str, str]:
    """What nearline's API and SciCat processor need to work with this SciCat."""
    values = secret_values(settings)
    return {
        "NEARLINE_SCICAT__ENABLED": "true",
        "NEARLINE_SCICAT__URL": url(settings),
        "NEARLINE_SCICAT__USERNAME": ARCHIVE_ACCOUNT,
        "NEARLINE_SCICAT__PASSWORD": values["archive_password"],
        "NEARLINE_SCICAT__JOB_TOKEN": values["job_token"],
    }


def install(settings: Settings) -> None:
    """Fetch and build SciCat and FerretDB, unless built already."""
    base = root(settings)
    base.mkdir(parents=True, exist_ok=True)
    backend = base / "backend"
    if not (backend / "dist" / "main.js").exists():
        source = os.environ.get("SCICAT_SOURCE", SCICAT_GIT)
        if not backend.exists():
            _run(["git", "clone", "--quiet", source, str(backend)])
        _run(["git", "-C", str(backend), "checkout", "--quiet", SCICAT_COMMIT])
        _run(["npm", "ci", "--no-audit", "--no-fund"], cwd=backend)
        _run(["npx", "nest", "build"], cwd=backend)
    if not (base / "ferretdb").exists():
        gopath = base / "go"
        env = {"GOPATH": str(gopath), "GOFLAGS": "-mod=mod"}
        _run(["go", "mod", "download", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"], env=env, cwd=base)
        module = (
            gopath
            / "pkg"
            / "mod"
            / "github.com"
            / "!ferret!d!b"
            / f"!ferret!d!b@{FERRETDB_VERSION}"
        )
        source_copy = base / "ferretdb-src"
        shutil.rmtree(source_copy, ignore_errors=True)
        shutil.copytree(module, source_copy)
        _run(["chmod", "-R", "u+w", str(source_copy)])
        # A module download lacks the version file FerretDB's build writes from git.
        (source_copy / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
        _run(
            ["go", "build", "-o", str(base / "ferretdb"), "./cmd/ferretdb"],
            env=env,
            cwd=source_copy,
        )


def _run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, check=True)


def write_configuration(settings: Settings, action: str = "url") -> Path:
    """SciCat's functional accounts, job configuration and a frontend configuration."""
    conf = root(settings) / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    values = secret_values(settings)
    accounts = [
        {
            "username": "admin",
            "email": "admin@example.org",
            "password": values["admin_password"],
            "role": "admin",
            "global": True,
        },
        {
            "username": INGESTOR_ACCOUNT,
            "email": "ingestor@example.org",
            "password": values["ingestor_password"],
            "role": "ingestor",
            "global": True,
        },
        {
            "username": ARCHIVE_ACCOUNT,
            "email": "archive@example.org",
            "password": values["archive_password"],
            "role": ARCHIVE_GROUP,
            "global": True,
        },
    ]
    (conf / "functionalAccounts.json").touch(mode=0o600)
    (conf / "functionalAccounts.json").write_text(json.dumps(accounts, indent=1))
    (conf / "jobConfig.yaml").write_text(
        json.dumps(job_configuration(action), indent=1)
    )  # JSON is YAML
    # SciCat stores its frontend configuration in its database at start; its example
    # has keys with dots, which FerretDB refuses (MongoDB 5+ takes them). nearline needs none.
    (conf / "frontend.config.json").write_text("{}\n")
    return conf


def daemons(settings: Settings) -> list[Daemon]:
    base = root(settings)
    run_dir = base / "run"
    conf = base / "conf"
    values = secret_values(settings)
    data = base / "ferretdb-data"
    data.mkdir(parents=True, exist_ok=True)
    ferretdb = Daemon(
        name="ferretdb",
        command=[
            str(base / "ferretdb"),
            "--handler=sqlite",
            f"--sqlite-url=file:{data}/",
            f"--listen-addr=127.0.0.1:{ferretdb_port(settings)}",
            "--telemetry=disable",
            f"--state-dir={data}",  # its state.json, not in the current folder
            "--debug-addr=-",
        ],
        run_dir=run_dir,
    )
    broker = base / "rabbitmq"
    rabbitmq = Daemon(
        name="rabbitmq",
        command=["/usr/lib/rabbitmq/bin/rabbitmq-server"],
        run_dir=run_dir,
        env=_rabbitmq_env(settings, broker),
    )
    env = {
        "MONGODB_URI": f"mongodb://127.0.0.1:{ferretdb_port(settings)}/scicat",
        "PORT": str(scicat_port(settings)),
        "JWT_SECRET": values["jwt_secret"],
        "EXPRESS_SESSION_SECRET": values["jwt_secret"],
        "FUNCTIONAL_ACCOUNTS_FILE": str(conf / "functionalAccounts.json"),
        "JOB_CONFIGURATION_FILE": str(conf / "jobConfig.yaml"),
        "FRONTEND_CONFIG_FILE": str(conf / "frontend.config.json"),
        # The archive account reads every dataset and writes lifecycles and datablocks.
        "ADMIN_GROUPS": f"admin,{INGESTOR_ACCOUNT},{ARCHIVE_GROUP}",
        "DELETE_GROUPS": ARCHIVE_GROUP,
        "UPDATE_DATASET_LIFECYCLE_GROUPS": f"{ARCHIVE_GROUP},admin",
        "CREATE_DATASET_PRIVILEGED_GROUPS": f"{INGESTOR_ACCOUNT},admin",
        "UPDATE_JOB_PRIVILEGED_GROUPS": ARCHIVE_GROUP,
        "PID_PREFIX": "nearline-test",
        "SITE": "LOCAL",
        "ELASTICSEARCH_ENABLED": "no",
        "RABBITMQ_ENABLED": "yes",
        "RABBITMQ_HOSTNAME": "127.0.0.1",
        "RABBITMQ_PORT": str(rabbitmq_port(settings)),
        "RABBITMQ_USERNAME": RABBITMQ_USER,
        "RABBITMQ_PASSWORD": RABBITMQ_USER,
        "JOB_DEFAULT_STATUS_CODE": "jobSubmitted",
        "JOB_DEFAULT_STATUS_MESSAGE": "Job submitted.",
        # What the job action templates use: where nearline's API is, and its token.
        "NEARLINE_URL": f"http://127.0.0.1:{settings.ports.api}",
        "NEARLINE_SCICAT_TOKEN": values["job_token"],
    }
    scicat = Daemon(
        name="scicat",
        command=["node", "dist/main"],
        run_dir=run_dir,
        env=env,
        cwd=base / "backend",
    )
    return [ferretdb, rabbitmq, scicat]


def _rabbitmq_env(settings: Settings, broker: Path) -> dict[str, str]:
    (broker / "log").mkdir(parents=True, exist_ok=True)
    (broker / "enabled_plugins").write_text("[].\n")
    return {
        "HOME": str(broker),  # its Erlang cookie
        "RABBITMQ_NODENAME": "nearline@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(rabbitmq_port(settings)),
        "RABBITMQ_DIST_PORT": str(settings.ports.s3 + 99),
        "ERL_EPMD_PORT": str(epmd_port(settings)),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        "RABBITMQ_MNESIA_BASE": str(broker / "mnesia"),
        "RABBITMQ_LOG_BASE": str(broker / "log"),
        "RABBITMQ_CONFIG_FILE": str(broker / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(broker / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(broker / "pid"),
    }


def healthy(settings: Settings) -> bool:
    try:
        response = httpx.get(f"{url(settings)}/api/v3/health", timeout=2)
    except httpx.TransportError:
        return False
    return response.status_code == 200


def up(settings: Settings, action: str = "url") -> None:
    """Start FerretDB, RabbitMQ and SciCat unless they run; SciCat with the job
    configuration of ``action`` (``url`` or ``rabbitmq``), restarted if it had another."""
    if not (root(settings) / "ferretdb").exists():
        raise StackError("SciCat is not installed here: run `python -m stack.scicat install`")
    conf = root(settings) / "conf" / "jobConfig.yaml"
    before = conf.read_text() if conf.exists() else None
    write_configuration(settings, action)
    ferretdb, rabbitmq, scicat = daemons(settings)
    if before is not None and before != conf.read_text():
        scicat.stop()  # SciCat reads its job configuration at start only
    ferretdb.start()
    wait_until(lambda: port_open(ferretdb_port(settings)), 30, "FerretDB", ferretdb.log_file)
    rabbitmq.start()
    wait_until(lambda: port_open(rabbitmq_port(settings)), 90, "RabbitMQ", rabbitmq.log_file)
    scicat.start()
    wait_until(lambda: healthy(settings), 180, "SciCat", scicat.log_file)


def down(settings: Settings) -> None:
    for daemon in reversed(daemons(settings)):
        daemon.stop()
    # Erlang's port mapper outlives the broker it served.
    subprocess.run(
        ["epmd", "-kill"],
        env={**os.environ, "ERL_EPMD_PORT": str(epmd_port(settings))},
        capture_output=True,
        check=False,
    )


def main(argv: list[str]) -> int:
    settings = get_settings()
    command = argv[0] if argv else "status"
    if command == "install":
        install(settings)
    elif command == "up":
        up(settings, argv[1] if len(argv) > 1 else "url")
        print(f"SciCat {url(settings)} (FerretDB on {ferretdb_port(settings)})")
    elif command == "down":
        down(settings)
    elif command == "status":
        ok = healthy(settings)
        print(f"SciCat {url(settings)}: {'up' if ok else 'down'}")
        return 0 if ok else 1
    else:
        print(
            "usage: python -m stack.scicat install|up [url|rabbitmq]|down|status", file=sys.stderr
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
