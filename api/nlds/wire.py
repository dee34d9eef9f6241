"""NLDS 1.0.0 wire conventions: 202 replies whose body is a JSON string holding JSON,
errors as ``{"detail": "<JSON string of {loc, msg, type}>"}``, tags as ``k:v,k2:v2``,
naive UTC ISO times, and the request bodies the client sends."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from api.inputs import DbInt
from projections.queries.filters import parse_tags

Tags = dict[str, str] | str | None
"""Tags as the client sends them in a body: a JSON object, or (older clients) the query
form ``k:v,k2:v2,``."""


class FileList(BaseModel):
    """The body of ``PUT files/`` and ``PUT files/getlist/``."""

    model_config = ConfigDict(extra="ignore")

    filelist: list[str] = []
    label: str | None = None
    tag: Tags = None
    holding_id: DbInt | None = None


class MetaChanges(BaseModel):
    """The body of ``POST catalog/meta/``."""

    model_config = ConfigDict(extra="ignore")

    new_label: str | None = None
    new_tag: Tags = None
    del_tag: Tags | list[str] = None


class StatusFilter(BaseModel):
    """The JSON body the client sends with ``GET status/``."""

    model_config = ConfigDict(extra="ignore")

    api_action: list[str] | str | None = None
    exclude_api_action: list[str] | str | None = None
    state: list[str | int] | str | int | None = None


def accepted(body: dict[str, Any]) -> JSONResponse:
    """202 with the body encoded twice: the client does ``json.loads(response.json())``."""
    return JSONResponse(status_code=202, content=json.dumps(body))


def error_body(loc: list[str], msg: str, kind: str) -> dict[str, str]:
    return {"detail": json.dumps({"loc": loc, "msg": msg, "type": kind})}


def tags_of(tags: Tags) -> dict[str, str]:
    """Tags from either body form."""
    if tags is None:
        return {}
    if isinstance(tags, str):
        return parse_tags(tags)
    return {str(k): str(v) for k, v in tags.items()}


def iso(ms: int) -> str:
    """Epoch milliseconds as the naive UTC ISO time the client parses and compares."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).replace(tzinfo=None).isoformat("T", "seconds")


def lines(given: list[str]) -> list[str]:
    """Paths as the client read them from a list file: ``nlds getlist -r`` (and
    ``putlist`` after a blank line) sends lines with their line ending, which NLDS's
    server strips. A line ending is never part of a path here; a line left empty names
    nothing (as a path, the client's folder)."""
    stripped = (line.rstrip("\r\n") for line in given)
    return [line for line in stripped if line]


def as_list(value: list[Any] | str | int | None) -> list[Any]:
    """A filter given once, as a comma-separated string, or as a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [value]
