"""Authentication: one provider, chosen in settings, turns a bearer token into an
``Identity``. The local provider also issues tokens; the OIDC provider only verifies
tokens issued elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from nearline.settings import Settings


@dataclass(frozen=True, slots=True)
class Identity:
    """Who made a request: a user name and the groups they belong to, primary first."""

    user: str
    groups: tuple[str, ...]

    @property
    def primary_group(self) -> str | None:
        return self.groups[0] if self.groups else None


class InvalidToken(Exception):
    """The bearer token is malformed, forged, expired or of the wrong kind (HTTP 401)."""


class ProviderUnavailable(Exception):
    """The identity provider cannot be reached to check a token (HTTP 503)."""


class GrantRefused(Exception):
    """A token request was refused; ``error`` is the OAuth2 error code (RFC 6749 5.2)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class Authenticator(Protocol):
    def identify(self, token: str) -> Identity:
        """The identity a bearer token proves; InvalidToken if it proves none."""
        ...


@runtime_checkable
class TokenIssuer(Protocol):
    """A provider that hands out tokens itself (the OAuth2 token endpoint)."""

    def grant(self, form: dict[str, str]) -> dict[str, object]:
        """The token response for a token request's form fields; GrantRefused if not."""
        ...


def make_authenticator(settings: Settings) -> Authenticator:
    """The provider ``settings.auth.provider`` names."""
    if settings.auth.provider == "oidc":
        from api.auth.oidc import OidcVerifier

        return OidcVerifier(settings.auth.oidc)
    from api.auth.directory import Directory
    from api.auth.families import token_families
    from api.auth.local import LocalTokens, token_secret
    from api.auth.users import users_file

    local = settings.auth.local
    directory = Directory(users_file(settings), local.directory)
    return LocalTokens(local, directory, token_secret(settings), token_families(settings))
