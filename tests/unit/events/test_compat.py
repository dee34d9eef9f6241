"""The schema check: locked versions are immutable, files follow the layout, every name
has a class, and the repository's own schemas pass."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from events import compat
from events.base import Event
from tests.unit.events.helpers import write_schema

SIZE = {"name": "size", "type": "long", "doc": "Bytes."}


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample(Event):
    """The test event as of v1."""

    schema_name: ClassVar[str] = "nearline.testing.Sample"
    size: int


def check(folder: Path, update: bool = False) -> list[str]:
    return compat.check(folder, update=update, classes=[Sample])


@pytest.fixture
def locked(tmp_path: Path) -> Path:
    """A folder with one schema version, locked."""
    write_schema(tmp_path, "testing", "Sample", 1, [SIZE])
    assert check(tmp_path, update=True) == []
    return tmp_path


def only(problems: list[str], text: str) -> None:
    assert len(problems) == 1 and text in problems[0], problems


def test_the_repository_schemas_pass(capsys):
    assert compat.main([]) == 0
    assert "ok" in capsys.readouterr().out


def test_a_new_file_must_be_locked_with_update(tmp_path):
    write_schema(tmp_path, "testing", "Sample", 1, [SIZE])
    only(check(tmp_path), "not in fingerprints.lock yet")
    assert check(tmp_path, update=True) == []
    lock = json.loads((tmp_path / compat.LOCK_NAME).read_text())
    assert list(lock) == ["testing/Sample.v1.avsc"]
    assert check(tmp_path) == []


def test_an_edited_locked_version_fails(locked):
    write_schema(locked, "testing", "Sample", 1, [{**SIZE, "type": "int"}])
    only(check(locked), "a locked schema version was edited")
    only(check(locked, update=True), "a locked schema version was edited")


def test_a_doc_only_edit_changes_nothing_on_the_wire_and_passes(locked):
    write_schema(locked, "testing", "Sample", 1, [SIZE], doc="Better words.")
    assert check(locked) == []


def test_a_deleted_locked_version_fails(locked):
    (locked / "testing" / "Sample.v1.avsc").unlink()
    only(check(locked), "a locked schema version was deleted")


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (dict(doc=""), "record nearline.testing.Sample has no doc"),
        (dict(fields=[{"name": "size", "type": "long"}]), "field nearline.testing.Sample.size has"),
        (dict(envelope=False, fields=[SIZE]), "the first fields must be the envelope"),
        (dict(namespace="nearline.other"), "does not match its folder"),
        (
            dict(fields=[SIZE, {"name": "s3_secret_key", "type": "string", "doc": "No!"}]),
            "looks like a secret",
        ),
    ],
)
def test_layout_problems_are_reported(tmp_path, change, text):
    fields = change.pop("fields", [SIZE])
    write_schema(tmp_path, "testing", "Sample", 1, fields, **change)
    assert any(text in p for p in check(tmp_path)), check(tmp_path)


def test_a_nested_record_needs_docs_too(tmp_path):
    nested = {
        "name": "file",
        "doc": "A file.",
        "type": {"type": "record", "name": "File", "fields": [{"name": "path", "type": "bytes"}]},
    }
    write_schema(tmp_path, "testing", "Sample", 1, [nested])
    problems = check(tmp_path)
    assert any("record nearline.testing.Sample.file has no doc" in p for p in problems)
    assert any("field nearline.testing.Sample.file.path has no doc" in p for p in problems)


def test_versions_are_numbered_without_gaps(tmp_path):
    write_schema(tmp_path, "testing", "Sample", 1, [SIZE])
    write_schema(tmp_path, "testing", "Sample", 3, [SIZE, {**SIZE, "name": "b", "default": 0}])
    assert any("without gaps" in p for p in check(tmp_path))


def test_a_name_needs_a_class_mirroring_its_latest_version(tmp_path):
    write_schema(tmp_path, "testing", "Sample", 1, [SIZE, {**SIZE, "name": "extra"}])
    assert any("class Sample has fields" in p for p in check(tmp_path))
    write_schema(tmp_path, "testing", "Orphan", 1, [])
    assert any("nearline.testing.Orphan: no event class" in p for p in check(tmp_path))


def test_an_unloadable_file_is_a_problem_not_a_crash(tmp_path):
    write_schema(tmp_path, "testing", "Sample", 1, [SIZE])
    (tmp_path / "testing" / "Broken.avsc").write_text("{}")
    assert any("Broken.avsc" in p for p in check(tmp_path))


def test_an_unreadable_lock_is_never_rewritten(locked):
    lock = locked / compat.LOCK_NAME
    lock.write_text("{broken")
    only(check(locked, update=True), "not a valid lock file")
    assert lock.read_text() == "{broken"


def test_main_lists_the_problems_and_exits_1(tmp_path, capsys):
    write_schema(tmp_path, "testing", "Sample", 1, [SIZE], doc="")
    assert compat.main(["--schemas", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "schema check failed" in err and "has no doc" in err
