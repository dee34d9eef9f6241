"""Who calls a Pacifica surface. Pacifica's own services send no credentials, so a
deployment on a trusted network may serve them as the namespace's account
(``pacifica.trusted_network``; the process then binds ``pacifica.trusted_host`` only).
Otherwise every call carries a nearline bearer token, and only the account that owns the
namespace's holding (``pacifica.account``, D145) may use it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.access_log import note_user
from api.auth import Identity
from api.deps import ServicesDep, current_user
from api.errors import ApiError
from domain.access import Scope
from nearline.settings import Settings

_bearer = HTTPBearer(auto_error=False)


def pacifica_caller(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Scope:
    """The scope the call works in: the account's own holdings, in a group named as the
    account whichever way the caller proved who they are, so that the holding is found
    the same way in both modes."""
    pacifica = services.settings.pacifica
    if pacifica.trusted_network:
        server = request.scope.get("server") or ("", None)
        if server[0] != pacifica.trusted_host:  # served on an address it must not be
            raise ApiError(403, "Not served here: this surface answers on its trusted address.")
        note_user(request.scope, pacifica.account)
        return Scope(pacifica.account, pacifica.account)
    identity: Identity = current_user(request, services, credentials)
    if identity.user != pacifica.account:
        raise ApiError(
            403,
            f"The Pacifica namespace {pacifica.namespace!r} belongs to the account "
            f"{pacifica.account!r}: use a token of that account.",
            ["header", "Authorization"],
            "Forbidden.",
        )
    return Scope(pacifica.account, pacifica.account)


PacificaCaller = Annotated[Scope, Depends(pacifica_caller)]


class UntrustedBind(RuntimeError):
    """The trusted-network mode asked for on an address other than the trusted host."""


def bind_host(settings: Settings, port_owner: str = "pacifica") -> str:
    """The address to serve Pacifica's surfaces on: in the trusted-network mode
    ``pacifica.trusted_host`` only, and the API (which binds ``api.host``) refuses to
    mount them on any other."""
    pacifica = settings.pacifica
    if not pacifica.trusted_network:
        return settings.api.host
    if port_owner == "api" and settings.api.host != pacifica.trusted_host:
        raise UntrustedBind(
            f"pacifica.trusted_network serves unauthenticated calls, so only on "
            f"pacifica.trusted_host ({pacifica.trusted_host}); the API binds "
            f"{settings.api.host}: run the surfaces alone (python -m api.pacifica) or "
            "bind the API to the trusted host."
        )
    return pacifica.trusted_host
