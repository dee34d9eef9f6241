"""Log lines carry the transaction id being handled and never a credential."""

from __future__ import annotations

import contextvars
import io
import json
import logging

import pytest
from pydantic import SecretStr

from nearline.observe import logs
from nearline.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    s = Settings(home=tmp_path, log={"format": "json"})
    s.s3.secret_key = SecretStr("s3-very-secret-key")
    s.s3.access_key = SecretStr("nearline")
    s.catalog.url = "postgresql+psycopg://nearline:db-pass-word@db.example.org/nearline"
    return s


def logged(settings: Settings, emit) -> list[str]:
    stream = io.StringIO()
    logger = logging.getLogger(f"test.logs.{id(stream)}")
    logger.propagate = False
    logger.addHandler(logs.handler(settings, "test", stream))
    logger.setLevel(logging.INFO)
    # A fresh context: a transaction noted by an earlier test must not leak into this one.
    contextvars.Context().run(emit, logger)
    return stream.getvalue().splitlines()


def test_json_lines_carry_the_transaction_id_only_inside_a_transaction(settings):
    def emit(logger: logging.Logger) -> None:
        logger.info("before")
        with logs.transaction("tid-1"):
            logger.info("during %d", 1)
        logger.info("after")

    before, during, after = (json.loads(line) for line in logged(settings, emit))
    assert "transaction_id" not in before and "transaction_id" not in after
    assert during["transaction_id"] == "tid-1" and during["message"] == "during 1"
    assert during["process"] == "test" and during["level"] == "INFO"


def test_text_lines_show_the_transaction_id(settings):
    settings.log.format = "text"

    def emit(logger: logging.Logger) -> None:
        with logs.transaction("tid-2"):
            logger.info("hello")

    (line,) = logged(settings, emit)
    assert line.endswith("[tid-2] hello")


@pytest.mark.parametrize(
    "message",
    [
        "connecting with s3-very-secret-key",
        "Authorization: Bearer eyJhbGciOi.payload.sig",
        "form password=hunter2hunter2&user=alice",
        'json {"client_secret": "abcdef123456"}',
        "url postgresql://nearline:db-pass-word@db/nearline",
        "url https://bob:letmein99@s3.example.org/bucket",
    ],
)
def test_credentials_never_reach_a_line(settings, message):
    secrets = (
        "s3-very-secret-key",
        "eyJhbGciOi",
        "hunter2hunter2",
        "abcdef123456",
        "db-pass-word",
        "letmein99",
    )

    def emit(logger: logging.Logger) -> None:
        logger.info("%s", message)
        try:
            raise RuntimeError(message)
        except RuntimeError:
            logger.exception("failed")

    text = "\n".join(logged(settings, emit))
    assert logs.REDACTED in text
    assert not any(secret in text for secret in secrets), text


def test_the_access_key_is_no_secret_and_words_stay_readable(settings):
    def emit(logger: logging.Logger) -> None:
        logger.info("joined group nearline-transfer-put")

    (line,) = logged(settings, emit)
    assert json.loads(line)["message"] == "joined group nearline-transfer-put"
