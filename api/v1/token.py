"""``POST /token``: the OAuth2 token endpoint (password and refresh_token grants) of the
local provider, in the form the nlds client and any OAuth2 library send."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from api.auth import GrantRefused, ProviderUnavailable, TokenIssuer
from api.deps import ServicesDep
from api.v1.models import TokenError, TokenOut

router = APIRouter(tags=["auth"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

FormField = Annotated[str | None, Form()]


@router.post(
    "/token",
    response_model=TokenOut,
    responses={400: {"model": TokenError}, 401: {"model": TokenError}, 429: {"model": TokenError}},
)
def token(
    request: Request,
    services: ServicesDep,
    grant_type: FormField = None,
    username: FormField = None,
    password: FormField = None,
    refresh_token: FormField = None,
    client_id: FormField = None,
    client_secret: FormField = None,
    scope: FormField = None,
) -> JSONResponse:
    """Exchange a user name and password, or a refresh token, for new tokens. A refresh
    token is used once: use the new one the answer holds. Too many requests from one
    address, or password attempts for one user, are answered 429 with Retry-After."""
    address = request.client.host if request.client else None
    wait = services.token_throttle.wait_s(address, username if grant_type == "password" else None)
    if wait:
        return _refused(
            GrantRefused(
                "too_many_requests",
                f"Too many token requests from your address or for this user: try again in "
                f"{wait} s.",
                status=429,
            ),
            {"Retry-After": str(wait)},
        )
    issuer = services.authenticator
    if not isinstance(issuer, TokenIssuer):
        return _refused(
            GrantRefused(
                "unsupported_grant_type",
                "This server does not issue tokens: get one from your identity provider "
                f"({services.settings.auth.oidc.issuer}).",
            )
        )
    form = {
        "grant_type": grant_type,
        "username": username,
        "password": password,
        "refresh_token": refresh_token,
        "client_id": client_id,
        "client_secret": client_secret,
        "scope": scope,
    }
    try:
        tokens = issuer.grant({k: v for k, v in form.items() if v is not None})
    except GrantRefused as refused:
        return _refused(refused)
    except ProviderUnavailable as error:  # the token log (a refresh) cannot be reached
        return _refused(
            GrantRefused("temporarily_unavailable", f"Cannot answer now: {error}.", status=503)
        )
    return JSONResponse(tokens, headers=NO_STORE)


def _refused(refused: GrantRefused, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": refused.error, "error_description": refused.description},
        status_code=refused.status,
        headers=NO_STORE | (headers or {}),
    )
