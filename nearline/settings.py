"""The one settings object every component reads.

Sources, strongest first: keyword arguments, ``NEARLINE_*`` environment variables
(nested with ``__``, e.g. ``NEARLINE_S3__ENDPOINT_URL``), the TOML file named by
``NEARLINE_CONFIG``, the file ``$NEARLINE_HOME/stack.toml`` that ``make stack-up``
writes for the local stack, and the defaults below. The same code therefore talks to
the local stack or to real services: only the sources differ.

About 400 lines as one job: one tree of settings, a model per section, read the same way
by every component; each section is short and its defaults are documented where they are.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def default_home() -> Path:
    """Where all local state lives: ``$NEARLINE_HOME`` or ``./.nearline``."""
    return Path(os.environ.get("NEARLINE_HOME", ".nearline")).absolute()


class StackPorts(BaseModel):
    """Loopback ports of the local stack; change them to run two stacks side by side."""

    kafka: int = 29092
    kafka_controller: int = 29093
    s3: int = 29000
    postgres: int = 25432
    xrootd: int = 21094
    api: int = 28080


class KafkaSettings(BaseModel):
    bootstrap_servers: str = ""  # empty: the local stack's broker
    partitions: int = Field(6, ge=1, description="partitions of each event topic")
    replication: int = Field(1, ge=1, description="replication factor of each topic")
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # The local stack's generated SCRAM passwords by principal (stack.toml): a process
    # that names its principal in ``sasl_username`` finds its password here.
    passwords: dict[str, SecretStr] = {}
    ssl_cafile: str | None = None
    session_timeout_s: float = Field(
        10, ge=6, description="how soon a crashed consumer's partitions move to another"
    )

    def client_config(self) -> dict[str, str | int | float | bool]:
        """librdkafka (confluent-kafka) connection settings, credentials included."""
        config: dict[str, str | int | float | bool] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username or ""
            config["sasl.password"] = self.password()
        if self.ssl_cafile:
            config["ssl.ca.location"] = self.ssl_cafile
        return config

    def password(self) -> str:
        """The SASL password: ``sasl_password``, else the stack's for ``sasl_username``."""
        secret = self.sasl_password or self.passwords.get(self.sasl_username or "")
        return secret.get_secret_value() if secret else ""


class S3Settings(BaseModel):
    endpoint_url: str = ""  # empty: the local stack's S3 server
    region: str = "us-east-1"
    access_key: SecretStr = SecretStr("")
    secret_key: SecretStr = SecretStr("")
    bucket: str = "nearline-cache"
    verify_tls: bool = True
    multipart_threshold: int = 64 * 1024 * 1024
    multipart_chunksize: int = 64 * 1024 * 1024
    max_concurrency: int = 8
    # Files of 1 byte up to below ``pack_below`` are stored as slices of packs of about
    # ``pack_bytes`` (stores/s3/packs.py, D90); 0 stores every file alone.
    pack_below: int = Field(1024 * 1024, ge=0)
    pack_bytes: int = Field(64 * 1024 * 1024, ge=1)
    # Multipart uploads left open longer than this (a process killed mid-upload) are
    # aborted by the sweeper, every ``stale_upload_sweep_s``: their parts use space.
    stale_upload_age_s: float = Field(6 * 3600, gt=0)
    stale_upload_sweep_s: float = Field(3600, gt=0)


class CatalogSettings(BaseModel):
    url: str = ""  # empty: SQLite under $NEARLINE_HOME, the embedded default
    batch_size: int = Field(5000, ge=1, description="rows written per projection commit")
    # Processes a PostgreSQL replay splits the topics' partitions among (D195); SQLite
    # has one writer, so one.
    replay_workers: int = Field(2, ge=1)


class RetrySettings(BaseModel):
    """Backoff of system errors (object store, tape, database unreachable): attempt *n*
    waits ``first_delay_s * factor**(n-1)``, at most ``max_delay_s``; after
    ``max_attempts`` the items fail with the error as their reason."""

    first_delay_s: float = Field(2.0, gt=0)
    factor: float = Field(2.0, ge=1)
    max_delay_s: float = Field(60.0, gt=0)
    max_attempts: int = Field(8, ge=0)

    def delay_s(self, attempt: int) -> float:
        """The pause before retry number ``attempt`` (1 for the first)."""
        return min(self.first_delay_s * self.factor ** max(attempt - 1, 0), self.max_delay_s)


class IndexSettings(BaseModel):
    """Bounds of one indexing sub-batch: the unit of transfer, status and retry."""

    max_files: int = Field(1000, ge=1)
    max_bytes: int = Field(4 * 1024**3, ge=1)


class PosixSettings(BaseModel):
    """File-system work for users (``stores.posix``): whom nearline acts for."""

    min_uid: int = Field(1000, ge=1)  # uid 0 is never served, nor system accounts below this
    worker_timeout_s: float = Field(600.0, gt=0)  # a user's worker silent longer is killed
    worker_idle_s: float = Field(5.0, ge=0)  # kept for the same requester's next work (D208)


class RestoreSettings(BaseModel):
    """How a GET makes the files it restored durable before moving them into place
    (``stores.durability``, D197): ``auto`` syncs each file system once where that can
    be trusted (Linux 5.8 or later, a local file system) and each file elsewhere;
    ``syncfs`` or ``fsync`` force one way."""

    durability: Literal["auto", "syncfs", "fsync"] = "auto"


class TapeSettings(BaseModel):
    url: str = ""  # empty: the local stack's XRootD server, e.g. root://host:1094/
    root: str = "/nearline"  # folder on the tape endpoint under which aggregates live
    checksum: str = "adler32"


class Quota(BaseModel):
    """Bytes one user or group may keep; None is unlimited."""

    cache_bytes: int | None = Field(None, ge=0)
    tape_bytes: int | None = Field(None, ge=0)


class QuotaSettings(BaseModel):
    """Quotas by user name and by group name (``quotas.users.<name>.cache_bytes``,
    ``quotas.groups.<name>.tape_bytes``); a name not listed is unlimited."""

    users: dict[str, Quota] = {}
    groups: dict[str, Quota] = {}


class CartSettings(BaseModel):
    max_files: int = Field(20_000, ge=1, description="files one cart may hold at most")
    keep_per_user: int = Field(
        20, ge=1, description="finished carts kept per user; older ones are purged, LRU"
    )


class ArchiveSettings(BaseModel):
    """The archive sweep: cached files without a tape copy go to tape in aggregates."""

    sweep_interval_s: float = Field(300, gt=0, description="seconds between two sweeps")
    aggregate_bytes: int = Field(
        8 * 1024**3, ge=1, description="target size of one tar aggregate on tape"
    )
    max_files_per_aggregate: int = Field(
        2000, ge=1, description="members of one aggregate at most: its events stay small"
    )
    max_files_per_sweep: int = Field(
        200_000, ge=1, description="files one sweep selects at most; the next takes the rest"
    )


class RecallSettings(BaseModel):
    """Recalls from tape: staging an aggregate and putting members back into the cache."""

    stage_timeout_s: float = Field(
        6 * 3600, gt=0, description="a stage not online by then expires: its files fail"
    )
    poll_first_s: float = Field(
        0.05, gt=0, description="first wait for a stage; each next one is 1.1 times longer"
    )
    poll_interval_s: float = Field(
        5.0, gt=0, description="the longest wait between two queries of a stage (D181)"
    )
    retry_delays_s: list[float] = Field(
        default_factory=lambda: [2.0, 5.0, 15.0, 30.0, 60.0],
        description="waits before retrying a failed stage or an unreachable store",
    )
    concurrency: int = Field(
        8, ge=1, description="recall requests one worker handles at once (sub-batches too)"
    )


class EvictionSettings(BaseModel):
    """The eviction policy: cache copies of archived files go when the cache fills up."""

    interval_s: float = Field(300, gt=0, description="seconds between two policy passes")
    cache_capacity_bytes: int = Field(10 * 1024**4, ge=1)
    high_watermark: float = Field(0.90, gt=0, le=1, description="evict above this fraction")
    low_watermark: float = Field(0.75, ge=0, le=1, description="evict down to this fraction")
    min_size_bytes: int = Field(0, ge=0, description="smaller files keep their cache copy")
    keep_labels: list[str] = Field(
        default_factory=list, description="fnmatch patterns of holding labels kept in cache"
    )
    keep_tags: list[str] = Field(
        default_factory=lambda: ["cache:keep"],
        description="holding tags key:value (or key alone: any value) kept in cache",
    )

    @model_validator(mode="after")
    def _ordered(self) -> EvictionSettings:
        if self.low_watermark > self.high_watermark:
            raise ValueError("the low watermark must not be above the high watermark")
        return self


class LocalAuthSettings(BaseModel):
    """nearline issues its own tokens (OAuth2 password and refresh_token grants)."""

    directory: Literal["file", "host"] = "file"  # where users' groups come from
    users_file: Path | None = None  # None: $NEARLINE_HOME/users.toml (password hashes)
    token_secret: SecretStr = SecretStr("")  # empty: generated into $NEARLINE_HOME
    access_token_ttl_s: int = Field(3600, ge=60)
    refresh_token_ttl_s: int = Field(30 * 86400, ge=60)
    client_id: str = "nearline"
    client_secret: SecretStr = SecretStr("")  # empty: any client may ask for tokens
    scopes: str = "nearline"
    # POST /token answers 429 past these, in each API process: password grants naming
    # one user, and token requests from one address, within a sliding window.
    token_requests_per_user: int = Field(10, ge=1)
    token_requests_per_address: int = Field(60, ge=1)
    token_window_s: float = Field(60, gt=0)


class OidcAuthSettings(BaseModel):
    """Tokens come from an external OpenID Connect issuer; the API only verifies them."""

    issuer: str = ""  # e.g. https://accounts.example.org/realms/science
    audience: str = ""
    jwks_url: str = ""  # empty: found through the issuer's discovery document
    algorithms: list[str] = ["RS256", "ES256"]
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    jwks_cache_s: float = Field(3600, ge=0)


class AuthSettings(BaseModel):
    """How the API authenticates users: one provider, chosen here."""

    provider: Literal["local", "oidc"] = "local"
    local: LocalAuthSettings = LocalAuthSettings()
    oidc: OidcAuthSettings = OidcAuthSettings()


class LogSettings(BaseModel):
    """How every process logs: ``text`` for people, ``json`` (one object per line) for a
    log collector. Lines about a transaction carry its id in both."""

    format: Literal["text", "json"] = "text"
    level: str = "INFO"


class ApiSettings(BaseModel):
    """Where ``python -m api`` listens (its port is ``ports.api``), and how long its
    replies wait to read their own writes (``api.shown``)."""

    host: str = "127.0.0.1"  # 0.0.0.0 in a container
    read_your_writes_s: float = Field(
        10,
        ge=0,
        description="how long a reply waits for the read model to show the change it "
        "reports (META, DELETE) or the new transaction (PUT, GET); past it, it goes out",
    )


class MetricsSettings(BaseModel):
    """The small HTTP listener of each processor: ``/metrics`` (Prometheus), ``/healthz``
    and ``/readyz``. The API serves the same paths on its own port."""

    port: int = Field(0, ge=0, le=65535, description="0: no listener")
    host: str = "127.0.0.1"
    lag_cache_s: float = Field(5, ge=0, description="how long a lag reading is reused")
    status_refresh_s: int = Field(5, ge=1, description="refresh interval of the status page")


class LimitSettings(BaseModel):
    """Bounds on what one request may ask for, so that no user's request slows the others'
    (``nearline.patterns``, decision D91)."""

    regex_max_length: int = Field(
        1000, ge=1, description="characters of a user's regular expression at most"
    )
    regex_max_mem: int = Field(
        8 * 1024**2,
        ge=64 * 1024,
        description="bytes RE2 may use for one compiled regular expression (its max_mem)",
    )
    # A request past these is answered 413 with the limit and never reaches Kafka.
    max_paths: int = Field(10_000, ge=1, description="paths one request may name")
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="bytes of one request body, and of its event"
    )


class ServeSettings(BaseModel):
    """``nearline-admin serve``: which processes it runs and how it restarts them
    (admin.supervisor, D121)."""

    # Instances per kind of process; a kind not named runs as often as in
    # admin.processes.PROCESSES (one each, two transfer-put and transfer-get; none of a
    # feature that is off, admin.processes.off); 0: none.
    instances: dict[str, int] = {}
    backoff_initial_s: float = Field(1.0, gt=0, description="delay before the first restart")
    backoff_max_s: float = Field(60.0, gt=0, description="the longest delay between restarts")
    stable_after_s: float = Field(
        60.0, gt=0, description="a process that ran this long has its backoff reset"
    )
    stop_timeout_s: float = Field(
        60.0, gt=0, description="time to stop after SIGTERM before SIGKILL"
    )


class PacificaSettings(BaseModel):
    """Pacifica's archive interface and cart service on their own wire (docs/pacifica.md).
    Files are kept by id in one holding per namespace, owned by ``account`` (D145)."""

    enabled: bool = False  # mounted into the API at the prefixes below
    archive_prefix: str = "/pacifica/archive"
    cart_prefix: str = "/pacifica/cart"
    namespace: str = "default"
    account: str = "pacifica"  # nearline user that owns the namespace's holding
    # Pacifica's own services send no credentials: with this set, the surfaces accept
    # unauthenticated calls as ``account``, and only when bound to ``trusted_host``.
    trusted_network: bool = False
    trusted_host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535, description="0: not run as its own process")
    ingest_folder: Path | None = None  # PATCH moves files in only from below here
    # Small files (below s3.pack_below) arriving within this window share one pack
    # (api/pacifica/archive/packing.py, D152): longer packs more, each PUT waits longer.
    pack_window_s: float = Field(0.1, ge=0, le=5)


class ScicatSettings(BaseModel):
    """SciCat's archive system (docs/scicat.md): jobs arrive through SciCat's ``url``
    action; the adapter works as SciCat's API user."""

    enabled: bool = False
    url: str = ""  # SciCat backend, e.g. https://scicat.example.org
    username: str = ""  # SciCat's functional account for the archiver
    password: SecretStr = SecretStr("")
    job_api: Literal["v4", "v3"] = "v4"  # how jobs are finished
    account: str = "scicat"  # nearline user that owns the datasets' holdings
    group: str = "scicat"  # that account's group, which owns the holdings
    # The bearer token SciCat's url action sends to /scicat/jobs (docs/scicat.md, D171).
    job_token: SecretStr = SecretStr("")
    # Where retrieve jobs restore datasets, one folder per dataset, as ``account`` (D175).
    retrieve_root: str = ""
    wait_timeout_s: float = Field(
        24 * 3600, gt=0, description="how long a job waits for a PUT, an archive or a GET"
    )
    poll_s: float = Field(2.0, gt=0, description="seconds between looks at a job's progress")
    # Jobs from SciCat's rabbitmq action instead (or as well): the broker and the queue
    # the action names (D177). Empty: the scicat-rabbitmq process idles.
    rabbitmq_url: SecretStr = SecretStr("")  # amqp://user:password@host:5672/%2F
    rabbitmq_queue: str = "nearline-scicat-jobs"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEARLINE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    home: Path = Field(default_factory=default_home)
    ports: StackPorts = StackPorts()
    kafka: KafkaSettings = KafkaSettings()
    s3: S3Settings = S3Settings()
    catalog: CatalogSettings = CatalogSettings()
    index: IndexSettings = IndexSettings()
    posix: PosixSettings = PosixSettings()
    restore: RestoreSettings = RestoreSettings()
    retry: RetrySettings = RetrySettings()
    tape: TapeSettings = TapeSettings()
    carts: CartSettings = CartSettings()
    archive: ArchiveSettings = ArchiveSettings()
    recall: RecallSettings = RecallSettings()
    eviction: EvictionSettings = EvictionSettings()
    auth: AuthSettings = AuthSettings()
    quotas: QuotaSettings = QuotaSettings()
    api: ApiSettings = ApiSettings()
    log: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()
    limits: LimitSettings = LimitSettings()
    serve: ServeSettings = ServeSettings()
    pacifica: PacificaSettings = PacificaSettings()
    scicat: ScicatSettings = ScicatSettings()

    @model_validator(mode="after")
    def _local_stack_defaults(self) -> Settings:
        # An endpoint left empty means "the local stack", found on its loopback port.
        if not self.kafka.bootstrap_servers:
            self.kafka.bootstrap_servers = f"127.0.0.1:{self.ports.kafka}"
        if not self.s3.endpoint_url:
            self.s3.endpoint_url = f"http://127.0.0.1:{self.ports.s3}"
        if not self.catalog.url:
            self.catalog.url = f"sqlite:///{self.home / 'catalog.db'}"
        if not self.tape.url:
            self.tape.url = f"root://127.0.0.1:{self.ports.xrootd}/"
        return self

    @property
    def postgres_url(self) -> str:
        """The local stack's PostgreSQL database (tests and benchmarks use it)."""
        return read_stack_file(self.home).get("postgres_url", "")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("NEARLINE_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        stack_file = stack_file_path(default_home())
        if stack_file.exists():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=stack_file))
        return tuple(sources)


def stack_file_path(home: Path) -> Path:
    """The settings file the local stack writes: endpoints and generated credentials."""
    return home / "stack.toml"


def read_stack_file(home: Path) -> dict[str, str]:
    import tomllib

    path = stack_file_path(home)
    if not path.exists():
        return {}
    with path.open("rb") as f:
        data = tomllib.load(f)
    return {k: v for k, v in data.get("local", {}).items() if isinstance(v, str)}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
