"""The OIDC provider against a locally made issuer: RSA and EC keys, a discovery
document and a JWKS served in-process (no network)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import InvalidToken, ProviderUnavailable
from api.auth.oidc import OidcVerifier
from nearline.settings import OidcAuthSettings

ISSUER = "https://id.example.org/realms/science"
AUDIENCE = "nearline"
JWKS_URL = f"{ISSUER}/protocol/openid-connect/certs"


class Issuer:
    """An OpenID provider in a dict: keys, a discovery document, and a fetch counter."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {
            "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec-1": ec.generate_private_key(ec.SECP256R1()),
        }
        self.published = set(self.keys)
        self.fetches: list[str] = []
        self.down = False

    def fetch(self, url: str) -> dict[str, Any]:
        self.fetches.append(url)
        if self.down:
            raise ValueError("connection refused")
        if url == f"{ISSUER}/.well-known/openid-configuration":
            return {"issuer": ISSUER, "jwks_uri": JWKS_URL, "token_endpoint": f"{ISSUER}/token"}
        assert url == JWKS_URL
        keys = []
        for kid in sorted(self.published):
            key = self.keys[kid]
            algorithm = (
                jwt.algorithms.RSAAlgorithm if kid.startswith("rsa") else jwt.algorithms.ECAlgorithm
            )
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            keys.append(jwk | {"kid": kid, "use": "sig"})
        return {"keys": keys}

    def token(self, kid: str = "rsa-1", **changes: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "f3c1-uuid",
            "preferred_username": "alice",
            "groups": ["climate", "ocean"],
            "iat": now,
            "exp": now + 300,
        } | changes
        claims = {k: v for k, v in claims.items() if v is not None}
        algorithm = "RS256" if kid.startswith("rsa") else "ES256"
        return jwt.encode(claims, self.keys[kid], algorithm=algorithm, headers={"kid": kid})


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def verifier(issuer: Issuer) -> OidcVerifier:
    settings = OidcAuthSettings(issuer=ISSUER, audience=AUDIENCE)
    return OidcVerifier(settings, fetch=issuer.fetch)


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
def test_a_token_from_the_issuer_names_the_user_and_groups(verifier, issuer, kid):
    identity = verifier.identify(issuer.token(kid))
    assert identity.user == "alice" and identity.groups == ("climate", "ocean")


def test_keys_are_fetched_once_and_cached(verifier, issuer):
    for _ in range(5):
        verifier.identify(issuer.token())
    assert issuer.fetches == [f"{ISSUER}/.well-known/openid-configuration", JWKS_URL]


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "someone-else"},
        {"iss": "https://evil.example.org"},
        {"exp": int(time.time()) - 3600},
        {"aud": None},
        {"preferred_username": None},
    ],
    ids=["audience", "issuer", "expired", "no audience", "no username"],
)
def test_tokens_for_others_or_out_of_date_are_refused(verifier, issuer, changes):
    with pytest.raises(InvalidToken):
        verifier.identify(issuer.token(**changes))


def test_a_token_signed_with_a_key_the_issuer_does_not_publish_is_refused(verifier, issuer):
    issuer.keys["rsa-rogue"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidToken, match="does not publish"):
        verifier.identify(issuer.token("rsa-rogue"))


def test_a_forged_kid_does_not_make_a_flood_of_fetches(verifier, issuer):
    issuer.keys["rsa-rogue"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    verifier.identify(issuer.token())
    for _ in range(10):
        with pytest.raises(InvalidToken):
            verifier.identify(issuer.token("rsa-rogue"))
    assert len(issuer.fetches) == 2  # no refetch within REFETCH_AFTER_S


def test_a_rotated_key_is_fetched_when_first_seen(issuer):
    now = [1000.0]
    verifier = OidcVerifier(
        OidcAuthSettings(issuer=ISSUER, audience=AUDIENCE), fetch=issuer.fetch, clock=lambda: now[0]
    )
    verifier.identify(issuer.token())
    issuer.keys["rsa-2"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer.published.add("rsa-2")
    now[0] += 60
    assert verifier.identify(issuer.token("rsa-2")).user == "alice"


def test_symmetric_and_unsigned_tokens_are_refused_even_with_the_public_key(verifier, issuer):
    # The classic forgery: HS256 keyed with the issuer's public key, which anyone has.
    public_pem = (
        issuer.keys["rsa-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    claims = jwt.decode(issuer.token(), options={"verify_signature": False})
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT","kid":"rsa-1"}')
    body = jwt.utils.base64url_encode(json.dumps(claims).encode())
    mac = hmac.new(public_pem, header + b"." + body, hashlib.sha256).digest()
    forged = b".".join([header, body, jwt.utils.base64url_encode(mac)]).decode()
    with pytest.raises(InvalidToken, match="not accepted"):
        verifier.identify(forged)
    with pytest.raises(InvalidToken):
        verifier.identify(jwt.encode(claims, "", algorithm="none"))


def test_groups_may_be_a_space_separated_string(verifier, issuer):
    assert verifier.identify(issuer.token(groups="a b")).groups == ("a", "b")
    assert verifier.identify(issuer.token(groups=None)).groups == ()


def test_an_unreachable_issuer_is_unavailable_not_unauthorized(verifier, issuer):
    issuer.down = True
    with pytest.raises(ProviderUnavailable):
        verifier.identify(issuer.token())


def test_the_api_takes_oidc_tokens_when_configured(settings, issuer, log):
    settings.auth.provider = "oidc"
    settings.auth.oidc = OidcAuthSettings(issuer=ISSUER, audience=AUDIENCE)
    verifier = OidcVerifier(settings.auth.oidc, fetch=issuer.fetch)
    app = create_app(settings, authenticator=verifier, request_log=lambda: log)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {issuer.token()}"}
        assert client.get("/api/v1/whoami", headers=headers).json()["user"] == "alice"
        listed = client.get(
            "/api/1.0.0/catalog/list/", params={"user": "alice", "group": "ocean"}, headers=headers
        )
        assert listed.status_code == 202
        # This provider issues no tokens; clients get them from the issuer.
        refused = client.post("/api/v1/token", data={"grant_type": "password"})
        assert refused.status_code == 400 and ISSUER in refused.json()["error_description"]
    # An issuer that cannot be reached, with no keys cached: unavailable, not unauthorized.
    issuer.down = True
    fresh = OidcVerifier(settings.auth.oidc, fetch=issuer.fetch)
    with TestClient(create_app(settings, authenticator=fresh, request_log=lambda: log)) as client:
        assert client.get("/api/v1/whoami", headers=headers).status_code == 503


def test_the_provider_needs_an_issuer_and_audience():
    with pytest.raises(ValueError, match="ISSUER"):
        OidcVerifier(OidcAuthSettings(audience="x"))


def mismatched(issuer: Issuer, kid: str, algorithm: str) -> str:
    """A token whose header names the key ``kid`` and an algorithm of another key type,
    signed with a key of that type (the server must not fail on it)."""
    claims = jwt.decode(issuer.token(), options={"verify_signature": False})
    other = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm.startswith("ES")
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    return jwt.encode(claims, other, algorithm=algorithm, headers={"kid": kid})


@pytest.mark.security
@pytest.mark.parametrize(("kid", "algorithm"), [("rsa-1", "ES256"), ("ec-1", "RS256")])
def test_a_token_whose_algorithm_does_not_fit_its_key_is_invalid(verifier, issuer, kid, algorithm):
    with pytest.raises(InvalidToken, match="does not fit"):
        verifier.identify(mismatched(issuer, kid, algorithm))


@pytest.mark.security
def test_the_api_answers_a_mismatched_key_type_with_401(settings, issuer, log):
    settings.auth.provider = "oidc"
    settings.auth.oidc = OidcAuthSettings(issuer=ISSUER, audience=AUDIENCE)
    verifier = OidcVerifier(settings.auth.oidc, fetch=issuer.fetch)
    app = create_app(settings, authenticator=verifier, request_log=lambda: log)
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = {"Authorization": f"Bearer {mismatched(issuer, 'rsa-1', 'ES256')}"}
        response = client.get("/api/v1/whoami", headers=headers)
    assert response.status_code == 401, response.text
