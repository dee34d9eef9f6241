"""The SciCat adapter: ``python -m processors.scicat worker``.

It reads ``nearline.scicat`` (key: SciCat job id) and does each job SciCat handed over
(``processors.scicat.job``), recording every step on the same topic. A job is
acknowledged only once it is finished, so a job in hand when the process stops is handed
over again and resumes from its journal (decision D172). Wiring only.
"""

from __future__ import annotations

import asyncio
from typing import Any

from events.scicat import ScicatJobReceived
from events.topics import SCICAT
from nearline.settings import get_settings
from processors.app import decoded, make_app
from processors.scicat.archive import archive_dataset
from processors.scicat.client import Scicat
from processors.scicat.job import DatasetRunner, Work, run_job
from processors.scicat.journal import KafkaSteps
from processors.scicat.retrieve import retrieve_dataset
from processors.scicat.wiring import catalog_reads

settings = get_settings()
app = make_app("scicat", settings)
jobs = app.topic(SCICAT)
work = Work(settings.scicat, Scicat(settings.scicat), catalog_reads(settings), KafkaSteps(settings))
RUNNERS: dict[str, DatasetRunner] = {"archive": archive_dataset, "retrieve": retrieve_dataset}


@app.agent(jobs, concurrency=1)
async def handle(stream: Any) -> None:
    loop = asyncio.get_running_loop()
    async for event, _record in decoded(stream, app):
        if isinstance(event, ScicatJobReceived) and event.job_type in RUNNERS:
            await loop.run_in_executor(None, run_job, work, event, RUNNERS)


if __name__ == "__main__":
    app.main()
