"""SciCat's ``rabbitmq`` job action instead of ``url``: the real SciCat publishes the job
to a real RabbitMQ, nearline's consumer records it, the adapter does it, and the updates
SciCat publishes as the adapter reports back are not taken for new jobs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from admin import processes
from nearline.settings import Settings
from stack import scicat as scicat_stack

pytestmark = [pytest.mark.slow, pytest.mark.peers]


@pytest.fixture
def rabbitmq_consumer(settings: Settings, processors, adapter) -> Iterator[str]:
    """SciCat with the rabbitmq action, and nearline's consumer of its queue."""
    scicat_stack.up(settings, "rabbitmq")
    env = (
        processors
        | adapter
        | {
            "NEARLINE_SCICAT__RABBITMQ_URL": scicat_stack.rabbitmq_url(settings),
            "NEARLINE_SCICAT__RABBITMQ_QUEUE": scicat_stack.RABBITMQ_QUEUE,
        }
    )
    processes.stop(settings, ["scicat-rabbitmq"])
    processes.start(settings, ["scicat-rabbitmq"], env=env, log=lambda _line: None)
    try:
        yield str(processes.daemon(settings, "scicat-rabbitmq").log_file)
    finally:
        processes.stop(settings, ["scicat-rabbitmq"])
        scicat_stack.up(settings, "url")


def test_a_job_published_on_rabbitmq_is_archived(
    settings, scicat, rabbitmq_consumer, make_source, scicat_account
):
    _, group = scicat_account
    source = make_source(2)
    pid = scicat.dataset(source.path, source.files, group)

    created = scicat.job("archive", [pid], group)
    assert created.status_code == 201, created.text
    job = scicat.wait_job(created.json()["id"])

    assert job["statusCode"] == "finishedSuccessful", job
    assert scicat.get_dataset(pid)["datasetlifecycle"]["archiveStatusMessage"] == (
        "datasetOnArchiveDisk"
    )
    assert {e["path"] for b in scicat.datablocks(pid) for e in b["dataFileList"]} == set(
        source.files
    )
    log = Path(rabbitmq_consumer).read_text(encoding="utf-8", errors="replace")
    assert f"recorded SciCat archive job {job['id']}" in log
    assert "an update to inProgress (nearline's own)" in log
    assert log.count(f"recorded SciCat archive job {job['id']}") == 1
