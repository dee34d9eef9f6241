"""What can go wrong talking to nearline, each error with what the user should do next."""

from __future__ import annotations


class NearlineError(Exception):
    """An error a user can meet: ``message`` says what happened, ``hint`` what to do."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "", status: int | None = None) -> None:
        super().__init__(message if not hint else f"{message} {hint}")
        self.message = message
        self.hint = hint
        self.status = status


class NotLoggedIn(NearlineError):
    """No token is stored, or it can no longer be refreshed."""

    def __init__(self, reason: str = "You are not logged in.") -> None:
        super().__init__(reason, "Run `nearline login`.", 401)


class LoginFailed(NearlineError):
    """The token endpoint refused the user name and password."""


class ServerUnreachable(NearlineError):
    """Nothing answered at the URL tried."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"Cannot reach the nearline server at {url}: {reason}.",
            "Check the URL (--server or NEARLINE_URL) and that the server is running.",
        )
        self.url = url


class NotFound(NearlineError):
    """The thing asked for does not exist or is not the caller's."""


class Refused(NearlineError):
    """The server refused the request as given (400, 403, 409, 422)."""


class ServerError(NearlineError):
    """The server failed (5xx); the request may be retried later."""
