"""The one exception routes and dependencies raise for HTTP errors; each surface renders
it in its own wire format (NLDS's JSON-string detail, or nearline's plain detail)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

RETRY_LATER = {"Retry-After": "15"}  # seconds: a database or broker restart, not an outage


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        loc: Sequence[str] = (),
        kind: str = "Request error.",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.loc = list(loc)
        self.kind = kind
        self.headers = headers


def not_authenticated() -> ApiError:
    return ApiError(
        403,
        "Not authenticated: send the header 'Authorization: Bearer <access token>'; "
        "get a token from the token endpoint with your user name and password.",
        loc=["header", "Authorization"],
        kind="Not authenticated.",
    )


def invalid_token(reason: str) -> ApiError:
    return ApiError(
        401,
        f"Authentication failed: {reason}. Get a new token (refresh it, or log in again).",
        loc=["header", "Authorization"],
        kind="Invalid token.",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


Render = Callable[[ApiError], Response]


def install_error_handlers(app: FastAPI, render: Render, not_a_member_status: int = 404) -> None:
    """Answer ApiError, and every domain error a caller can cause, with ``render``
    (each surface has its own wire format); the message says what to do next."""
    from api.commands import CommandRejected
    from domain.access import NotAMember
    from domain.queries import InvalidQuery, QueryTooSlow
    from nearline.requests import RequestNotRecorded, RequestTooLarge

    def as_api_error(error: Exception) -> ApiError:
        match error:
            case ApiError():
                return error
            case CommandRejected():
                return ApiError(400, str(error), [error.field], "Invalid request.")
            case InvalidQuery():
                return ApiError(400, str(error), ["query"], "Invalid request.")
            case QueryTooSlow():
                return ApiError(400, str(error), ["query"], "Query too broad.")
            case NotAMember():
                return ApiError(not_a_member_status, str(error), ["group"], "Not found.")
            case RequestNotRecorded():
                message = f"Nothing was done: {error}. Try again in a minute."
                return ApiError(503, message, ["server"], "Service unavailable.", RETRY_LATER)
            case OperationalError() | InterfaceError() | PoolTimeout():
                # The catalog database is away (restarting, unreachable): the caller did
                # nothing wrong and loses nothing by asking again.
                message = "The catalog database cannot be reached just now. Try again shortly."
                return ApiError(503, message, ["server"], "Service unavailable.", RETRY_LATER)
            case RequestTooLarge():
                return ApiError(413, str(error), [error.field], "Request too large.")
        raise error

    def handle(_request: Request, error: Exception) -> Response:
        api_error = as_api_error(error)
        response = render(api_error)
        response.headers.update(api_error.headers or {})
        return response

    for kind in (ApiError, CommandRejected, InvalidQuery, QueryTooSlow, NotAMember):
        app.add_exception_handler(kind, handle)
    for database_away in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(database_away, handle)
    app.add_exception_handler(RequestNotRecorded, handle)
    app.add_exception_handler(RequestTooLarge, handle)
