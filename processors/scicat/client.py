"""SciCat's REST API as the archive system uses it, logged in as SciCat's functional
archive account: the job, the dataset and its original datablocks, the datablocks the
archive adds, the dataset's lifecycle and the job's status (v4 or v3 routes).

A 4xx answer is the request's fault (``ScicatRefused``); anything else that stops a call
(a 5xx, no answer) is SciCat's or the network's (``ScicatUnavailable``). Neither message
carries the password or the token."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from nearline.settings import ScicatSettings

TIMEOUT_S = 60.0


class ScicatUnavailable(RuntimeError):
    """SciCat could not be reached or failed (5xx): a system error."""


class ScicatRefused(ValueError):
    """SciCat refused a call (4xx); ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Scicat:
    """One logged-in session with SciCat; it logs in again when its token expires."""

    def __init__(self, settings: ScicatSettings, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        self.http = httpx.Client(
            base_url=settings.url.rstrip("/") + "/api", timeout=TIMEOUT_S, transport=transport
        )
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v4/jobs/{_part(job_id)}")

    def dataset(self, pid: str) -> dict[str, Any]:
        return self._call("GET", f"/v3/datasets/{_part(pid)}")

    def origdatablocks(self, pid: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/v3/datasets/{_part(pid)}/origdatablocks")

    def datablocks(self, pid: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/v3/datasets/{_part(pid)}/datablocks")

    def post_datablock(self, pid: str, block: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/v3/datasets/{_part(pid)}/datablocks", block)

    def lifecycle(self, pid: str, **fields: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/v3/datasets/{_part(pid)}/datasetlifecycle", fields)

    def job_status(
        self, job_id: str, code: str, message: str, result: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Set the job's status: ``statusCode``/``statusMessage`` on the v4 route, or the
        v3 ``jobStatusMessage`` (the code) that production archivers still use."""
        if self.settings.job_api == "v4":
            body: dict[str, Any] = {"statusCode": code, "statusMessage": message}
            route = f"/v4/jobs/{_part(job_id)}"
        else:
            body = {"jobStatusMessage": code}
            route = f"/v3/jobs/{_part(job_id)}"
        if result is not None:
            body["jobResultObject"] = result
        return self._call("PATCH", route, body)

    def _call(self, method: str, route: str, body: Any = None) -> Any:
        for attempt in (1, 2):
            try:
                response = self.http.request(
                    method, route, json=body, headers={"Authorization": f"Bearer {self._login()}"}
                )
            except httpx.HTTPError as error:
                raise ScicatUnavailable(
                    f"SciCat {method} {route}: {type(error).__name__}"
                ) from None
            if response.status_code == 401 and attempt == 1:
                self._token = None  # expired: log in again once
                continue
            return _answer(method, route, response)
        raise AssertionError("unreachable")

    def _login(self) -> str:
        if self._token is None:
            credentials = {
                "username": self.settings.username,
                "password": self.settings.password.get_secret_value(),
            }
            try:
                response = self.http.post("/v3/auth/login", json=credentials)
            except httpx.HTTPError as error:
                raise ScicatUnavailable(f"SciCat login: {type(error).__name__}") from None
            if response.status_code >= 300:
                # A refused login is the site's configuration: a system error, not the user's.
                raise ScicatUnavailable(
                    f"SciCat refused the login of {self.settings.username!r} "
                    f"({response.status_code}): check scicat.username and scicat.password"
                )
            self._token = response.json()["access_token"]
        return self._token


def _answer(method: str, route: str, response: httpx.Response) -> Any:
    if response.status_code >= 500:
        raise ScicatUnavailable(f"SciCat {method} {route}: {response.status_code}")
    if response.status_code >= 400:
        raise ScicatRefused(
            f"SciCat {method} {route}: {response.status_code} {_reason(response)}",
            response.status_code,
        )
    return response.json() if response.content else None


def _reason(response: httpx.Response) -> str:
    try:
        message = response.json().get("message", "")
    except ValueError:
        return response.text[:200]
    return str(message)[:300]


def _part(value: str) -> str:
    """A path segment: dataset pids hold slashes (``20.500.12269/...``)."""
    return quote(value, safe="")
