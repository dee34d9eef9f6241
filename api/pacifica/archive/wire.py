"""Pacifica archive interface's wire: its messages, its error body and its status headers,
as pacifica-archiveinterface 0.4 sends them (docs/pacifica.md). Its clients test these
strings, so they are kept as they are, the three s's of ``X-Pacifica-Messsage``
included."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.responses import JSONResponse

UP = "Pacifica Archive Interface Up and Running"
ADDED = "File added to archive"
STAGED = "File was staged"
MOVED = "File Moved Successfully"
FOUND = "File was found"
# What the original's error page names as its version (CherryPy's): clients only show it.
VERSION = "nearline"
ERROR_CLASS = "pacifica.archiveinterface.exception.ArchiveInterfaceError"


def error(status: int, message: str, detail: str | None = None) -> JSONResponse:
    """The original's error page: ``status``, ``message``, ``traceback``, ``version``. The
    traceback is never a real one (no code, no server paths): one line naming the error
    class, as the last line of the original's, which clients search."""
    reason = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 411: "Length Required"}
    status_text = f"{status} {reason.get(status, 'Internal Server Error')}"
    return JSONResponse(
        {
            "status": status_text,
            "message": message,
            "traceback": f"{ERROR_CLASS}: {detail or message}",
            "version": VERSION,
        },
        status_code=status,
    )


def cannot_open(file_id: str) -> JSONResponse:
    """A second PUT (or PATCH) of an id: the original fails to open the read-only file,
    and clients look for ``Can't open`` in the traceback."""
    return error(
        500,
        f"Error opening file {file_id}",
        f"Can't open {file_id}: it is archived already, and archived files are read-only",
    )


@dataclass(frozen=True)
class Status:
    """What ``HEAD /<id>`` says of a file."""

    file_id: str
    size: int
    mtime_s: float
    ctime_s: float
    on_disk: bool  # a copy is in the S3 cache
    on_tape: bool

    @property
    def media(self) -> str:
        return "disk" if self.on_disk else ("tape" if self.on_tape else "error")

    def headers(self) -> dict[str, str]:
        """The six headers cartd reads (it stays ``staging`` if one is missing), and the
        message; times as float epochs, levels as a Python tuple's repr."""
        levels = f"({self.size},)" if self.on_disk else f"(0, {self.size})"
        return {
            "X-Pacifica-Messsage": FOUND,
            "X-Pacifica-File": f"/{self.file_id}",
            "X-Content-Length": str(self.size),
            "Last-Modified": repr(self.mtime_s),
            "X-Pacifica-Ctime": repr(self.ctime_s),
            "X-Pacifica-Bytes-Per-Level": levels,
            "X-Pacifica-File-Storage-Media": self.media,
        }
