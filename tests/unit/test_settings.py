"""One settings object: defaults point at the local stack; environment variables and a
TOML file point the same code at real services."""

from __future__ import annotations

import os

from nearline.settings import Settings


def test_defaults_point_at_the_local_stack(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("NEARLINE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NEARLINE_HOME", str(tmp_path))
    settings = Settings()
    assert settings.home == tmp_path
    assert settings.kafka.bootstrap_servers == "127.0.0.1:29092"
    assert settings.s3.endpoint_url == "http://127.0.0.1:29000"
    assert settings.catalog.url == f"sqlite:///{tmp_path / 'catalog.db'}"
    assert settings.tape.url == "root://127.0.0.1:21094/"


def test_ports_move_every_local_endpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("NEARLINE_HOME", str(tmp_path))
    monkeypatch.setenv("NEARLINE_PORTS__KAFKA", "39092")
    monkeypatch.setenv("NEARLINE_PORTS__S3", "39000")
    settings = Settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:39092"
    assert settings.s3.endpoint_url == "http://127.0.0.1:39000"


def test_environment_and_toml_file_point_at_real_services(tmp_path, monkeypatch):
    config = tmp_path / "nearline.toml"
    config.write_text(
        '[kafka]\nbootstrap_servers = "kafka1:9092,kafka2:9092"\npartitions = 24\n'
        '[s3]\nendpoint_url = "https://s3.example.org"\naccess_key = "AK"\nsecret_key = "SK"\n'
        '[catalog]\nurl = "postgresql+psycopg://nearline@db/nearline"\n'
    )
    monkeypatch.setenv("NEARLINE_HOME", str(tmp_path))
    monkeypatch.setenv("NEARLINE_CONFIG", str(config))
    monkeypatch.setenv("NEARLINE_TAPE__URL", "root://cta.example.org:1094/")
    monkeypatch.setenv("NEARLINE_KAFKA__PARTITIONS", "12")  # environment beats the file
    settings = Settings()
    assert settings.kafka.bootstrap_servers == "kafka1:9092,kafka2:9092"
    assert settings.kafka.partitions == 12
    assert settings.s3.endpoint_url == "https://s3.example.org"
    assert settings.s3.secret_key.get_secret_value() == "SK"
    assert "SK" not in repr(settings)  # secrets never show in logs or tracebacks
    assert settings.catalog.url.startswith("postgresql+psycopg://")
    assert settings.tape.url == "root://cta.example.org:1094/"
