"""The OIDC provider: verifies JWTs that an external OpenID Connect issuer signed, with
the issuer's keys (JWKS) found through its discovery document and cached."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from api.auth import Identity, InvalidToken, ProviderUnavailable
from nearline.settings import OidcAuthSettings

FetchJson = Callable[[str], dict[str, Any]]

ASYMMETRIC = ("RS", "PS", "ES", "EdDSA")
"""Only public-key algorithms: a symmetric one would let anyone who knows the issuer's
public key forge tokens with it."""

REFETCH_AFTER_S = 30.0
"""An unknown key id refetches the key set, at most this often (keys rotate, but a
flood of forged key ids must not become a flood of requests to the issuer)."""

LEEWAY_S = 30
"""Clock skew tolerated between the issuer and us."""

KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "EdDSA": "OKP"}
"""The JWK key type each family of algorithms verifies with."""


def fetch_json(url: str) -> dict[str, Any]:
    response = httpx.get(url, timeout=10.0, follow_redirects=True)
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError(f"{url} did not answer a JSON object")
    return data


class OidcVerifier:
    def __init__(
        self,
        settings: OidcAuthSettings,
        fetch: FetchJson = fetch_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.issuer or not settings.audience:
            raise ValueError(
                "auth.oidc needs an issuer and an audience: set NEARLINE_AUTH__OIDC__ISSUER "
                "and NEARLINE_AUTH__OIDC__AUDIENCE"
            )
        self.settings = settings
        self.algorithms = [a for a in settings.algorithms if a.startswith(ASYMMETRIC)]
        self.fetch = fetch
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._failure: str | None = None
        self._discovery: dict[str, Any] | None = None

    def identify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("the token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise InvalidToken(f"tokens signed with {algorithm!r} are not accepted")
        key = self._key(header.get("kid"))
        if not _fits(key, algorithm):
            raise InvalidToken(f"the token's algorithm {algorithm} does not fit its key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.InvalidTokenError as error:
            raise InvalidToken(f"the token is not valid: {error}") from None
        except (jwt.PyJWTError, TypeError, ValueError):
            # A key PyJWT cannot use for this algorithm: the token is wrong, not the server.
            raise InvalidToken("the token cannot be checked with the issuer's key") from None
        user = claims.get(self.settings.username_claim)
        if not isinstance(user, str) or not user:
            raise InvalidToken(f"the token has no {self.settings.username_claim!r} claim")
        return Identity(user=user, groups=_groups(claims.get(self.settings.groups_claim)))

    def _key(self, kid: str | None) -> jwt.PyJWK:
        with self._lock:
            now = self.clock()
            fetched = self._fetched_at
            if (
                fetched is None
                or now - fetched > self.settings.jwks_cache_s
                or (kid not in self._keys and now - fetched > REFETCH_AFTER_S)
            ):
                self._refresh(now)
            if not self._keys and self._failure:
                raise ProviderUnavailable(
                    f"the identity provider's keys are unreachable ({self._failure}); "
                    "try again in a minute"
                )
            key = self._keys.get(kid)
            if key is None and kid is None and len(self._keys) == 1:
                key = next(iter(self._keys.values()))
        if key is None:
            raise InvalidToken("the token was signed with a key the issuer does not publish")
        return key

    def _refresh(self, now: float) -> None:
        """Fetch the key set; on failure keep the keys we have and remember why."""
        self._fetched_at = now
        try:
            url = self.settings.jwks_url or self._discovered_jwks_url()
            entries = self.fetch(url).get("keys", [])
        except (httpx.HTTPError, ValueError) as error:
            self._failure = str(error)
            return
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                keys[entry.get("kid")] = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key type this installation cannot use
        self._keys, self._failure = keys, None

    def token_endpoint(self) -> str:
        """Where clients get tokens (the discovery document's token_endpoint)."""
        try:
            endpoint = self._discovered().get("token_endpoint")
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderUnavailable(f"the discovery document is unreachable: {error}") from None
        return endpoint if isinstance(endpoint, str) else ""

    def _discovered(self) -> dict[str, Any]:
        if self._discovery is None:
            issuer = self.settings.issuer.rstrip("/")
            document = self.fetch(f"{issuer}/.well-known/openid-configuration")
            if str(document.get("issuer", "")).rstrip("/") != issuer:
                raise ValueError(f"the discovery document names issuer {document.get('issuer')!r}")
            self._discovery = document
        return self._discovery

    def _discovered_jwks_url(self) -> str:
        jwks_uri = self._discovered().get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise ValueError("the discovery document has no jwks_uri")
        return jwks_uri


def _fits(key: jwt.PyJWK, algorithm: str) -> bool:
    """Whether the key is of the type the algorithm verifies with (an RSA key for RS256,
    an EC key for ES256, ...): PyJWT raises TypeError for a mismatch (D114)."""
    family = next((f for f in KEY_TYPES if algorithm.startswith(f)), None)
    return family is not None and key.key_type == KEY_TYPES[family]


def _groups(claim: object) -> tuple[str, ...]:
    """Groups from a claim that is a list of names or one space-separated string."""
    if isinstance(claim, str):
        return tuple(claim.split())
    if isinstance(claim, list):
        return tuple(g for g in claim if isinstance(g, str) and g)
    return ()
