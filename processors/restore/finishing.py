"""The finishing pass of a GET restored in several sub-batches (decision D34).

Such a GET makes its directories in sub-batches of their own, before their contents, so
the writes that follow leave each directory with the mtime of the last one. Once every
other sub-batch has settled, the directories the GET made (never those it found) get
their cataloged mode and mtime again, deepest first. A directory that is gone, or is no
longer a directory, is skipped: its contents were restored, only its times are not.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Sequence

from events.catalog import CatalogedFile
from processors.indexing.access import Requester
from processors.indexing.lookup import printable
from processors.restore.metadata import reset_directory_times
from processors.restore.restore import Refusal, Restored, deepest_first, plan, unsafe_place

log = logging.getLogger(__name__)

GONE = "was no longer a directory when the GET finished; its mode and mtime are not restored"


def finish_made_directories(
    directories: Sequence[CatalogedFile], target: bytes | None, who: Requester
) -> list[Restored | Refusal]:
    """Give ``directories`` (made by this GET) their cataloged mode and mtime, as ``who``;
    an outcome for each, those skipped as refusals (logged as warnings)."""
    placements, outcomes = plan(directories, target, who, overwrite=False)
    skipped: list[Refusal] = list(outcomes)
    finished: list[Restored] = []
    for placement in deepest_first(placements):
        reason = unsafe_place(placement)
        if reason is None:
            try:
                entry = placement.entry
                reset_directory_times(placement.destination, entry["mode"], entry["mtime_ns"])
            except OSError as exc:
                gone = exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
                reason = GONE if gone else f"could not finish the directory: {exc.strerror}"
        if reason is None:
            finished.append(Restored(placement.path, placement.destination))
        else:
            skipped.append(Refusal(placement.path, reason))
    for refusal in skipped:
        log.warning("directory %s skipped: %s", printable(refusal.path), refusal.reason)
    return [*finished, *skipped]
