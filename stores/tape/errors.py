"""What can go wrong talking to the tape endpoint, split by what the caller should do.

``TapeUnavailable`` is worth retrying later (server down, network, timeout, overload);
every ``TapeError`` is not, until something changes (a missing file, a file only on tape,
a checksum mismatch, a conflicting file).
"""

from __future__ import annotations

from typing import Any, NoReturn

# XrdCl client-side status codes (XrdClStatus.hh) that mean "the endpoint could not be
# reached or did not answer in time".
_UNREACHABLE = {
    102,  # errSocketError
    103,  # errSocketTimeout
    104,  # errSocketDisconnected
    105,  # errPollerError
    106,  # errSocketOptError
    107,  # errStreamDisconnect
    108,  # errConnectionError
    109,  # errInvalidSession
    110,  # errTlsError
    202,  # errHandShakeFailed
    203,  # errLoginFailed
    206,  # errOperationExpired
    207,  # errOperationInterrupted
    208,  # errThresholdExceeded
    301,  # errNoMoreFreeSIDs
}
_ERROR_RESPONSE = 400  # errErrorResponse: the server answered with an XRootD error number

# Server error numbers (XProtocol.hh kXR_*).
KXR_IO_ERROR = 3007
KXR_NOT_FOUND = 3011
KXR_ITEM_EXISTS = 3018
_SERVER_BUSY = {
    3008,  # kXR_NoMemory
    3012,  # kXR_ServerError
    3014,  # kXR_noserver
    3024,  # kXR_Overloaded
    3034,  # kXR_ReqTimedOut
    3035,  # kXR_TimerExpired
}


class TapeFailure(Exception):
    """Any failure of a tape endpoint operation."""

    retryable = False


class TapeUnavailable(TapeFailure):
    """The endpoint is down, unreachable, overloaded or too slow: retry later."""

    retryable = True


class TapeError(TapeFailure):
    """The endpoint refused or failed the operation; retrying alone will not help."""


class TapeNotFound(TapeError):
    """No such file on the endpoint."""


class TapeOffline(TapeError):
    """The file is only on tape: stage it (and wait until it is online) before reading."""


class TapeConflict(TapeError):
    """A different file already exists at the path."""


class TapeChecksumMismatch(TapeError):
    """Two adler32 checksums of the same file disagree: the data is not what was written."""


def raise_for(status: Any, action: str) -> None:
    """Raise the right ``TapeFailure`` for an XRootD status that is not ok."""
    if status.ok:
        return
    fail(status, action)


def fail(status: Any, action: str) -> NoReturn:
    message = f"{action}: {status.message.strip()}"
    if status.code == _ERROR_RESPONSE:
        errno = status.errno
        if errno in _SERVER_BUSY:
            raise TapeUnavailable(message)
        if errno == KXR_NOT_FOUND:
            raise TapeNotFound(message)
        if errno == KXR_ITEM_EXISTS:
            raise TapeConflict(message)
        if "staging not allowed" in message:  # the endpoint's answer to reading an OFFLINE file
            raise TapeOffline(f"{message} (the file is only on tape: stage it first)")
        raise TapeError(message)
    if status.code in _UNREACHABLE:
        raise TapeUnavailable(message)
    raise TapeError(message)
