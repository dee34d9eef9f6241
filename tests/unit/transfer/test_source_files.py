"""A source file is read only as the version the indexer recorded, and any change shows."""

from __future__ import annotations

import os

import pytest

from stores.checksums import Checksummer, file_checksums
from stores.s3.source_files import (
    ChecksummingReader,
    Expected,
    SourceChanged,
    open_one,
    service_files,
)


def expected_of(path: bytes) -> Expected:
    status = os.stat(path)
    return Expected(status.st_size, status.st_mtime_ns)


@pytest.fixture
def data_file(tmp_path) -> bytes:
    path = bytes(tmp_path / "data")
    with open(path, "wb") as f:
        f.write(os.urandom(300_000))
    return path


def test_reads_exactly_the_expected_size(data_file):
    with open_one(service_files, data_file, expected_of(data_file)) as source:
        assert len(source.read(10**9)) == 300_000
        assert source.read(10) == b""
        source.check_unchanged()


@pytest.mark.parametrize(
    "change",
    [
        lambda e: Expected(e.size + 1, e.mtime_ns),
        lambda e: Expected(e.size, e.mtime_ns - 1),
    ],
)
def test_a_file_unlike_its_index_entry_is_refused(data_file, change):
    with pytest.raises(SourceChanged):
        open_one(service_files, data_file, change(expected_of(data_file)))


def test_growth_while_reading_is_noticed(data_file):
    with open_one(service_files, data_file, expected_of(data_file)) as source:
        source.read(1000)
        with open(data_file, "ab") as f:
            f.write(b"more")
        source.read(10**9)
        with pytest.raises(SourceChanged):
            source.check_unchanged()


def test_truncation_while_reading_is_noticed(data_file):
    with open_one(service_files, data_file, expected_of(data_file)) as source:
        source.read(1000)
        os.truncate(data_file, 5000)
        source.read(10**9)
        with pytest.raises(SourceChanged):
            source.check_unchanged()


def test_a_rewrite_in_place_is_noticed_by_its_times(data_file):
    expected = expected_of(data_file)
    with open_one(service_files, data_file, expected) as source:
        source.read(10**9)
        with open(data_file, "r+b") as f:
            f.write(b"X")  # same size
        os.utime(data_file, ns=(expected.mtime_ns, expected.mtime_ns))  # mtime restored
        with pytest.raises(SourceChanged):
            source.check_unchanged()  # ctime still moved


def test_a_path_that_became_a_symlink_or_a_directory_is_changed(data_file, tmp_path):
    link = bytes(tmp_path / "link")
    os.symlink(data_file, link)
    with pytest.raises(SourceChanged):
        open_one(service_files, link, expected_of(data_file))
    folder = bytes(tmp_path)
    with pytest.raises(SourceChanged):
        open_one(service_files, folder, expected_of(folder))


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_one(service_files, bytes(tmp_path / "nope"), Expected(0, 0))


def test_checksumming_reader_is_forward_only_and_checks_at_the_end(data_file):
    checksums = Checksummer()
    with open_one(service_files, data_file, expected_of(data_file)) as source:
        reader = ChecksummingReader(source, checksums)
        assert reader.readable() and not reader.seekable()
        chunks = []
        while chunk := reader.read(70_000):
            chunks.append(chunk)
    assert [len(c) for c in chunks] == [70_000] * 4 + [20_000]
    assert checksums.as_dict() == file_checksums(data_file)


def test_checksumming_reader_fails_at_the_end_of_a_changed_file(data_file):
    with open_one(service_files, data_file, expected_of(data_file)) as source:
        reader = ChecksummingReader(source, Checksummer())
        reader.read(100_000)
        with open(data_file, "ab") as f:
            f.write(b"more")
        reader.read(100_000)
        with pytest.raises(SourceChanged):
            reader.read(100_000)  # the last of the expected bytes
