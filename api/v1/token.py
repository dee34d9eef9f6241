"""``POST /token``: the OAuth2 token endpoint (password and refresh_token grants) of the
local provider, in the form the nlds client and any OAuth2 library send."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import JSONResponse

from api.auth import GrantRefused, TokenIssuer
from api.deps import ServicesDep
from api.v1.models import TokenError, TokenOut

router = APIRouter(tags=["auth"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

FormField = Annotated[str | None, Form()]


@router.post(
    "/token",
    response_model=TokenOut,
    responses={400: {"model": TokenError}, 401: {"model": TokenError}},
)
def token(
    services: ServicesDep,
    grant_type: FormField = None,
    username: FormField = None,
    password: FormField = None,
    refresh_token: FormField = None,
    client_id: FormField = None,
    client_secret: FormField = None,
    scope: FormField = None,
) -> JSONResponse:
    """Exchange a user name and password, or a refresh token, for new tokens."""
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
    return JSONResponse(tokens, headers=NO_STORE)


def _refused(refused: GrantRefused) -> JSONResponse:
    return JSONResponse(
        {"error": refused.error, "error_description": refused.description},
        status_code=refused.status,
        headers=NO_STORE,
    )
