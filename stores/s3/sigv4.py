"""AWS Signature Version 4 for single S3 object requests: their Authorization header.

Only what a PUT or HEAD of one object needs: no query string, the payload's sha256 given
by the caller (uploads have computed it anyway, so signing the payload costs nothing).
"""

from __future__ import annotations

import hashlib
import hmac

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class Signer:
    """Signs requests with one access key for one region and service; thread-safe."""

    def __init__(self, access_key: str, secret_key: str, region: str, service: str = "s3"):
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        self._service = service
        self._keys: dict[str, bytes] = {}  # signing key of each day: four HMACs saved

    def authorization(
        self, method: str, path: str, headers: dict[str, str], payload_sha256: str
    ) -> str:
        """The Authorization header value for a request that sends exactly ``headers``.

        ``path`` is the URI-encoded path as sent; ``headers`` have lowercase names and
        include ``host`` and ``x-amz-date`` (``YYYYMMDDTHHMMSSZ``); all of them are signed.
        """
        amz_date = headers["x-amz-date"]
        day = amz_date[:8]
        names = sorted(headers)
        canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in names)
        signed_headers = ";".join(names)
        canonical_request = "\n".join(
            (method, path, "", canonical_headers, signed_headers, payload_sha256)
        )
        scope = f"{day}/{self._region}/{self._service}/aws4_request"
        string_to_sign = "\n".join(
            (ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
        )
        signature = hmac.new(self._key(day), string_to_sign.encode(), hashlib.sha256).hexdigest()
        return (
            f"{ALGORITHM} Credential={self._access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )

    def _key(self, day: str) -> bytes:
        key = self._keys.get(day)
        if key is None:
            key = ("AWS4" + self._secret_key).encode()
            for part in (day, self._region, self._service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {day: key}  # replaced whole: readers in other threads never see a mix
        return key
