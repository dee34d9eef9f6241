"""Token families on ``nearline.tokens`` (key: family): the API's record of which refresh
tokens were used, and which logins were revoked. Ids only, never a token (principle 4).
Fields are documented in ``schemas/auth/``."""

from __future__ import annotations

from typing import ClassVar

from events.base import Event, event_type


@event_type
class RefreshTokenUsed(Event):
    """A refresh token was presented; the first record of a token wins, later ones are
    reuse."""

    schema_name: ClassVar[str] = "nearline.auth.RefreshTokenUsed"

    family: str
    jti: str  # the refresh token's id, never the token itself


@event_type
class TokenFamilyRevoked(Event):
    """Every token of the family is refused from now on."""

    schema_name: ClassVar[str] = "nearline.auth.TokenFamilyRevoked"

    family: str
    reason: str
