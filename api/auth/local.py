"""The local provider: nearline's own OAuth2 token endpoint (password and refresh_token
grants) and the HS256-signed tokens it issues and verifies.

Every token names its *family* (the password login it descends from) and carries a stamp
of the user's password hash. A refresh token is used once: the refresh answers with a new
pair of the same family, and a second use of a token revokes its family (``families``,
D113). A changed password, or a user removed from the users file, changes or removes the
stamp, and every token issued before stops working (D113)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

import jwt

from api.auth import GrantRefused, Identity, InvalidToken
from api.auth.directory import Directory
from api.auth.families import Families
from nearline.settings import LocalAuthSettings, Settings

ISSUER = "nearline"
ALGORITHM = "HS256"
SECRET_FILE = "api-token-secret"


class LocalTokens:
    """Issues access and refresh tokens to users of the directory, and verifies them."""

    def __init__(
        self,
        settings: LocalAuthSettings,
        directory: Directory,
        secret: bytes,
        families: Families,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.directory = directory
        self._secret = secret
        self.families = families
        self.clock = clock

    def identify(self, token: str) -> Identity:
        claims = self._verified(token, "access")
        groups = claims.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise InvalidToken("the token carries no groups")
        if self.families.revoked(claims["fam"]):
            raise InvalidToken("this login was revoked; log in again with your password")
        return Identity(user=claims["sub"], groups=tuple(groups))

    def grant(self, form: dict[str, str]) -> dict[str, object]:
        self._check_client(form)
        grant_type = form.get("grant_type", "")
        family = None
        if grant_type == "password":
            user = form.get("username", "")
            if not user or not form.get("password"):
                raise GrantRefused("invalid_request", "Give a username and a password.")
            if not self.directory.check_password(user, form["password"]):
                raise GrantRefused(
                    "invalid_grant", "The user name or password is wrong; check them and retry."
                )
        elif grant_type == "refresh_token":
            try:
                claims = self._verified(form.get("refresh_token", ""), "refresh")
            except InvalidToken as error:
                raise GrantRefused(
                    "invalid_grant", f"{error}; log in again with your password."
                ) from None
            user, family = claims["sub"], claims["fam"]
            primary = (self.directory.groups_of(user) or ("",))[0]
            if not self.families.redeem(family, claims["jti"], user, primary):
                raise GrantRefused(
                    "invalid_grant",
                    "This refresh token was used before, so every token of this login is now "
                    "revoked (if you did not use it twice, someone else has it): log in again "
                    "with your password.",
                )
        else:
            raise GrantRefused(
                "unsupported_grant_type",
                "Use grant_type=password or grant_type=refresh_token.",
            )
        groups = self.directory.groups_of(user)
        if groups is None:
            raise GrantRefused(
                "invalid_grant", f"User {user} has no account here; ask your administrator."
            )
        return self.issue(user, groups, family)

    def _check_client(self, form: dict[str, str]) -> None:
        expected = self.settings.client_secret.get_secret_value()
        if not expected:
            return  # a public client: the client id and secret identify nothing
        same_id = form.get("client_id") == self.settings.client_id
        same_secret = hmac.compare_digest(form.get("client_secret", "").encode(), expected.encode())
        if not (same_id and same_secret):
            raise GrantRefused(
                "invalid_client",
                "The client id or secret is wrong; check oauth_client_id and "
                "oauth_client_secret in your client's configuration.",
                status=401,
            )

    def issue(
        self, user: str, groups: tuple[str, ...], family: str | None = None
    ) -> dict[str, object]:
        """A token response for a user whose identity is already proven: a new family
        (a login), or the next pair of ``family`` (a refresh)."""
        family = family or secrets.token_urlsafe(12)
        stamp = self._stamp(user) or ""
        ttl = self.settings.access_token_ttl_s
        refresh_ttl = self.settings.refresh_token_ttl_s
        return {
            "access_token": self._sign(user, groups, "access", ttl, family, stamp),
            "token_type": "bearer",
            "expires_in": ttl,
            "refresh_token": self._sign(user, groups, "refresh", refresh_ttl, family, stamp),
            "scope": self.settings.scopes,
        }

    def _sign(
        self, user: str, groups: tuple[str, ...], typ: str, ttl: int, family: str, stamp: str
    ) -> str:
        now = int(self.clock())
        claims = {
            "iss": ISSUER,
            "sub": user,
            "groups": list(groups),
            "typ": typ,
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(12),
            "fam": family,
            "stamp": stamp,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def _stamp(self, user: str) -> str | None:
        """A keyed digest of the user's password hash; None for a user not in the file.
        It changes with every password change (each hash has a new salt)."""
        password_hash = self.directory.password_hash(user)
        if password_hash is None:
            return None
        digest = hmac.new(self._secret, b"password " + password_hash.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def _verified(self, token: str, typ: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                # Times are checked below against our clock, which tests can move.
                options={
                    "require": ["exp", "iat", "sub", "typ", "jti", "fam", "stamp"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidTokenError:
            raise InvalidToken("the token is not valid") from None
        if claims.get("typ") != typ:
            raise InvalidToken(f"this is not an {typ} token")
        if not isinstance(claims["exp"], int | float) or claims["exp"] <= self.clock():
            raise InvalidToken("the token has expired")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise InvalidToken("the token names no user")
        if not all(isinstance(claims[c], str) for c in ("jti", "fam", "stamp")):
            raise InvalidToken("the token is not valid")
        stamp = self._stamp(claims["sub"])
        if stamp is None:
            raise InvalidToken("the account no longer exists (ask your administrator)")
        if not hmac.compare_digest(stamp, claims["stamp"]):
            raise InvalidToken("the password was changed since this token was issued")
        return claims


def token_secret(settings: Settings) -> bytes:
    """The signing secret: from settings, or generated once into ``$NEARLINE_HOME``
    (mode 0600) so that every API process of a local installation shares it."""
    configured = settings.auth.local.token_secret.get_secret_value()
    if configured:
        return configured.encode()
    path = settings.home / SECRET_FILE
    settings.home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # another process made it first: use theirs
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    for _ in range(50):  # the process that created the file may still be writing it
        secret = path.read_text().strip()
        if secret:
            return secret.encode()
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty: delete it and start the API again")
