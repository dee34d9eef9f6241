"""Typed dependencies of the routes: the caller's identity, the catalog connection, the
request log, and the NLDS routes' ``user``/``group`` check."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection

from api.access_log import note_user
from api.auth import Identity, InvalidToken, ProviderUnavailable
from api.errors import ApiError, invalid_token, not_authenticated
from api.queries.transactions import transaction_users
from api.services import Services
from domain.access import Scope
from events.base import Event
from nearline.requests import RequestLog


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="An access token from the token endpoint.")


def current_user(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    """The caller, proven by their bearer token: none is 403, a bad one 401 (as NLDS)."""
    if credentials is None or not credentials.credentials:
        raise not_authenticated()
    try:
        identity = services.authenticator.identify(credentials.credentials)
    except InvalidToken as error:
        raise invalid_token(str(error)) from None
    except ProviderUnavailable as error:
        raise ApiError(503, f"Cannot check your token now: {error}.", kind="Unavailable.") from None
    note_user(request.scope, identity.user)
    return identity


CurrentUser = Annotated[Identity, Depends(current_user)]


def optional_user(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity | None:
    """The caller of an open route, if they sent a valid token; else None (anonymous)."""
    if credentials is None or not credentials.credentials:
        return None
    try:
        return current_user(request, services, credentials)
    except ApiError:
        return None


OptionalUser = Annotated[Identity | None, Depends(optional_user)]


def catalog_connection(services: ServicesDep) -> Iterator[Connection]:
    """A connection to the catalog for one request."""
    with services.engine.connect() as conn:
        yield conn


SessionDep = Annotated[Connection, Depends(catalog_connection)]


def request_log(services: ServicesDep, identity: CurrentUser, conn: SessionDep) -> RequestLog:
    """The request log, refusing a transaction id that another user's request used
    (409; D111). The status projection may lag: the decider refuses what this misses."""

    def own_transaction_id(event: Event) -> None:
        others = transaction_users(conn, event.transaction_id) - {identity.user}
        if others:
            raise ApiError(
                409,
                f"The transaction id {event.transaction_id} belongs to another user's "
                "request: leave transaction_id out and one is made for you.",
                ["transaction_id"],
                "Conflict.",
            )

    return services.request_log().checked(own_transaction_id)


RequestLogDep = Annotated[RequestLog, Depends(request_log)]


@dataclass(frozen=True)
class NldsCaller:
    """An NLDS caller whose ``user`` and ``group`` parameters match their token."""

    identity: Identity
    group: str

    def scope(self, groupall: bool = False) -> Scope:
        return Scope(self.identity.user, self.group, groupall)


def nlds_caller(
    identity: CurrentUser,
    user: Annotated[str, Query(description="Must be the user the token belongs to.")],
    group: Annotated[str, Query(description="A group the user belongs to.")],
) -> NldsCaller:
    """NLDS names the user and group in every request; they may only be the caller's."""
    if user != identity.user:
        raise ApiError(404, f"User {user} could not be found.", ["query", "user"], "Not found.")
    if group not in identity.groups:
        raise ApiError(
            404, f"User is not a member of the group {group}.", ["query", "group"], "Not found."
        )
    return NldsCaller(identity, group)


NldsCallerDep = Annotated[NldsCaller, Depends(nlds_caller)]


def read_scope(
    identity: CurrentUser,
    group: Annotated[
        str | None, Query(description="only this group's holdings (default: all of yours)")
    ] = None,
    groupall: Annotated[
        bool, Query(description="every member's holdings in the group (default: primary)")
    ] = False,
) -> Scope:
    """Whose rows a query of nearline's own API reads."""
    return Scope.of(identity, group, groupall)


ReadScopeDep = Annotated[Scope, Depends(read_scope)]
