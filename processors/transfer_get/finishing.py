"""The finishing pass of a GET restored in several sub-batches (decision D34).

Such a GET makes its directories in sub-batches of their own, before their contents, so
the writes that follow leave each directory with the mtime of the last one. Once every
other sub-batch has settled, the directories the GET made (never those it found) get
their cataloged mode and mtime again, deepest first, through the requester's worker. A
directory that is gone, or is no longer a directory, is skipped: its contents were
restored, only its times are not.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Sequence

from events.catalog import CatalogedFile
from processors.transfer_get.restore import Refusal, Restored, deepest_first, plan
from stores.posix.lookup import printable
from stores.posix.requesters import Requester
from stores.posix.session import UserFiles

log = logging.getLogger(__name__)

GONE = "was no longer a directory when the GET finished; its mode and mtime are not restored"


def finish_made_directories(
    directories: Sequence[CatalogedFile], target: bytes | None, who: Requester, files: UserFiles
) -> list[Restored | Refusal]:
    """Give ``directories`` (made by this GET) their cataloged mode and mtime, as ``who``;
    an outcome for each, those skipped as refusals (logged as warnings)."""
    placements, skipped = plan(directories, target, who, overwrite=False)
    ordered = deepest_first(placements)
    finished: list[Restored] = []
    if ordered:
        files.begin_restore(ordered[0].request.target)
        rows = [(p.destination, p.entry["mode"], p.entry["mtime_ns"]) for p in ordered]
        for placement, error in zip(ordered, files.finish_directories(rows), strict=True):
            if error is None:
                finished.append(Restored(placement.path, placement.destination))
                continue
            gone = error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
            reason = GONE if gone else f"could not finish the directory: {error.strerror}"
            skipped.append(Refusal(placement.path, reason))
    for refusal in skipped:
        log.warning("directory %s skipped: %s", printable(refusal.path), refusal.reason)
    return [*finished, *skipped]
