"""NLDS ``init/``: what ``nlds init`` needs to configure a client (the OAuth2 client
and token URL), encrypted with a Fernet key that ``init/token`` hands out.

As in NLDS, the key is public and the encryption only keeps the values out of casual
view, so nothing secret is served: the client secret is always empty (the OAuth2 client of
a CLI is a public client). An installation that sets ``auth.local.client_secret`` hands it
to its users another way (D114)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from cryptography.fernet import Fernet
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.auth.local import token_secret
from api.auth.oidc import OidcVerifier
from api.deps import ServicesDep
from api.nlds.wire import accepted
from nearline.settings import Settings

NO_TENANCY = "* nearline needs no object-store keys; the token was renewed *"

router = APIRouter(prefix="/init", tags=["init"])


@router.get("/", status_code=202)
def init(request: Request, services: ServicesDep) -> JSONResponse:
    settings = services.settings
    auth = settings.auth
    if isinstance(services.authenticator, OidcVerifier):
        client_id = auth.oidc.audience
        token_url = services.authenticator.token_endpoint()
    else:
        client_id = auth.local.client_id
        token_url = _api_root(request) + "/api/v1/token"
    scopes = auth.local.scopes
    config = {
        "authentication": {
            "oauth_client_id": client_id,
            "oauth_client_secret": "",  # never served: anyone may call this route
            "oauth_token_url": token_url,
            "oauth_scopes": scopes,
        },
        # Not the object store's host: the client sends the user's password there in
        # clear (http, port 81) for keys nearline does not use. This is no host name, so
        # the client refuses the URL before connecting (client.library.tokens.NO_TENANCY).
        "object_storage": {"tenancy": NO_TENANCY},
    }
    encrypted = Fernet(_key(settings)).encrypt(json.dumps(config).encode())
    return accepted({"encrypted_keys": encrypted.decode("ascii")})


@router.get("/token", status_code=202)
def token(services: ServicesDep) -> JSONResponse:
    return accepted({"token": base64.b64encode(_key(services.settings)).decode("ascii")})


def _key(settings: Settings) -> bytes:
    """A Fernet key fixed for the installation (every API process agrees on it)."""
    digest = hmac.new(token_secret(settings), b"nearline nlds init", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest)


def _api_root(request: Request) -> str:
    """The URL the API is served at, as the client reached it."""
    base = str(request.base_url).rstrip("/")
    mount = "/api/1.0.0"
    return base[: -len(mount)] if base.endswith(mount) else base
