"""Who calls the cart wire: the user of a nearline token, or, in the trusted-network mode
that Pacifica's own services expect (they send no credentials), the configured account,
and then only on the trusted address (as ``api.pacifica.caller`` for the archive
interface; decision D163)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.access_log import note_user
from api.auth import Identity
from api.auth.directory import host_groups
from api.deps import ServicesDep, current_user
from api.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="An access token from /api/v1/token.")


def cart_caller(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    pacifica = services.settings.pacifica
    if not pacifica.trusted_network:
        return current_user(request, services, credentials)
    server = request.scope.get("server") or ("", None)
    if server[0] != pacifica.trusted_host:  # served on an address it must not be
        raise ApiError(
            403,
            f"Not served here: with pacifica.trusted_network this cart service answers "
            f"only on {pacifica.trusted_host}.",
            ["server"],
            "Forbidden.",
        )
    note_user(request.scope, pacifica.account)
    # The account's host groups when it is a host user; else a group named as it.
    return Identity(pacifica.account, host_groups(pacifica.account) or (pacifica.account,))


CartCaller = Annotated[Identity, Depends(cart_caller)]
