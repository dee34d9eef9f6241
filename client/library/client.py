"""``Client``: nearline's v1 HTTP API as Python calls.

It logs in with the OAuth2 password grant, keeps the tokens (``tokens``), refreshes the
access token before it expires (and once more on a 401), and turns every error reply into
a ``NearlineError`` carrying the API's message and what to do next.

One class of about 480 lines, a method per route of the API: split, the routes a user
looks for would be spread over files for no gain.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import httpx

from client.library import errors, ndjson
from client.library.models import (
    Accepted,
    Cart,
    FileEntry,
    HistoryEntry,
    Holding,
    Transaction,
)
from client.library.paths import PathLike, wire_path
from client.library.tokens import Session, load_session, save_session

DEFAULT_SERVER = "http://127.0.0.1:28080"
API = "/api/v1"
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# A cart's first byte waits for the server to check every object in the cache.
DOWNLOAD_TIMEOUT = httpx.Timeout(900.0, connect=10.0)
NDJSON = "application/x-ndjson"  # a listing streamed one entry per line
Params = dict[str, Any]


def server_url(given: str | None = None, session: Session | None = None) -> str:
    """The server to talk to: the one given, else ``NEARLINE_URL``, else the one logged in
    to, else the local default."""
    url = given or os.environ.get("NEARLINE_URL") or (session.server if session else None)
    return (url or DEFAULT_SERVER).rstrip("/")


class Client:
    """One user's connection to a nearline server.

    ``session_path`` is where the login is kept (default ``~/.config/nearline/token.json``);
    ``http`` an ``httpx.Client`` to use instead of a new one (tests pass a FastAPI
    ``TestClient``).
    """

    def __init__(
        self,
        server: str | None = None,
        *,
        session_path: Path | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.session_path = session_path
        self.session = load_session(session_path)
        self.server = server_url(server, self.session)
        if self.session is not None and self.session.server != self.server:
            self.session = None  # a login for another server is no login here
        self._owns_http = http is None
        self.http = http or httpx.Client(timeout=TIMEOUT)

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- authentication ------------------------------------------------------------------

    def login(self, user: str, password: str) -> Session:
        """Exchange a user name and password for tokens, and keep them."""
        reply = self._token({"grant_type": "password", "username": user, "password": password})
        self.session = Session(self.server, user, reply, time.time())
        save_session(self.session, self.session_path)
        return self.session

    def refresh(self) -> Session:
        """New tokens from the refresh token; NotLoggedIn when that is no longer possible."""
        session = self.session
        if session is None or session.refresh_token is None:
            raise errors.NotLoggedIn()
        try:
            reply = self._token(
                {"grant_type": "refresh_token", "refresh_token": session.refresh_token}
            )
        except errors.LoginFailed:
            raise errors.NotLoggedIn("Your login has expired.") from None
        reply.setdefault("refresh_token", session.refresh_token)
        self.session = Session(self.server, session.user, reply, time.time())
        save_session(self.session, self.session_path)
        return self.session

    def _token(self, form: dict[str, str]) -> dict[str, Any]:
        form = form | {"client_id": "nearline", "client_secret": "", "scope": "nearline"}
        response = self._send("POST", f"{API}/token", data=form, authenticated=False)
        body = _json(response)
        if response.status_code != 200:
            description = body.get("error_description") or body.get("detail") or response.text
            if response.status_code in (400, 401):
                raise errors.LoginFailed(
                    f"Login refused: {description}",
                    "Check your user name and password.",
                    response.status_code,
                )
            raise _error(response)
        return cast(dict[str, Any], body)

    def whoami(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("GET", "/whoami"))

    # -- commands ------------------------------------------------------------------------

    def put(
        self,
        paths: Sequence[PathLike],
        *,
        label: str | None = None,
        holding_id: int | None = None,
        tags: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Accepted:
        """Put files (folders are walked) into a holding; returns the recorded request."""
        body = {
            "paths": [wire_path(p) for p in paths],
            "label": label,
            "holding_id": holding_id,
            "tags": dict(tags or {}),
        }
        return cast(Accepted, self._call("POST", "/puts", json=_command(body, options)))

    def get(
        self,
        paths: Sequence[PathLike] = (),
        *,
        regex: str | None = None,
        label: str | None = None,
        holding_id: int | None = None,
        tags: Mapping[str, str] | None = None,
        target: PathLike | None = None,
        overwrite: bool = False,
        groupall: bool = False,
        **options: Any,
    ) -> Accepted:
        """Get files back onto disk (into ``target``, or where they came from)."""
        body = _selection(paths, regex, label, holding_id, tags) | {
            "target": wire_path(target) if target is not None else None,
            "overwrite": overwrite,
            "groupall": groupall,
        }
        return cast(Accepted, self._call("POST", "/gets", json=_command(body, options)))

    def stage(
        self,
        paths: Sequence[PathLike] = (),
        *,
        regex: str | None = None,
        label: str | None = None,
        holding_id: int | None = None,
        tags: Mapping[str, str] | None = None,
        groupall: bool = False,
        **options: Any,
    ) -> Accepted:
        """Bring files from tape into the cache, without getting them (FIND then shows
        both copies)."""
        body = _selection(paths, regex, label, holding_id, tags) | {"groupall": groupall}
        return cast(Accepted, self._call("POST", "/stages", json=_command(body, options)))

    def delete(
        self,
        paths: Sequence[PathLike] = (),
        *,
        regex: str | None = None,
        label: str | None = None,
        holding_id: int | None = None,
        tags: Mapping[str, str] | None = None,
        whole_holdings: bool = False,
        **options: Any,
    ) -> Accepted:
        """Delete files from your holdings: ``paths``, or the matches of ``regex``; or,
        with ``whole_holdings`` and neither, the holdings ``label``, ``holding_id`` and
        ``tags`` pick, every file and the holding itself (its label is free again).
        Raises ``ValueError`` when what to delete is unclear."""
        whole = whole_deletion(paths, regex, label, holding_id, whole_holdings)
        if whole is not None:
            raise ValueError(whole)
        body = _selection(paths, regex, label, holding_id, tags)
        return cast(Accepted, self._call("POST", "/deletes", json=_command(body, options)))

    def meta(
        self,
        holding_id: int,
        *,
        new_label: str | None = None,
        add_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (),
        **options: Any,
    ) -> dict[str, Any]:
        """Change a holding's label or tags."""
        body = {
            "new_label": new_label,
            "add_tags": dict(add_tags or {}),
            "remove_tags": list(remove_tags),
        }
        reply = self._call("POST", f"/holdings/{holding_id}/meta", json=_command(body, options))
        return cast(dict[str, Any], reply)

    # -- queries -------------------------------------------------------------------------

    def holdings(self, **filters: Any) -> list[Holding]:
        """Holdings: label, label_regex, holding_id, transaction_id, tags, group,
        groupall, limit, descending."""
        return cast(
            list[Holding], self._call("GET", "/holdings", params=_query(filters))["holdings"]
        )

    def files(self, **filters: Any) -> list[FileEntry]:
        """Files: the holdings filters, plus path (str or bytes) and regex; at most
        ``limit`` (1,000 if not given). ``each_file`` lists them all."""
        params = _query(_file_filters(filters))
        return cast(list[FileEntry], self._call("GET", "/files", params=params)["files"])

    def each_file(self, **filters: Any) -> Iterator[FileEntry]:
        """Every file ``files`` would list, without its limit, streamed from the server as
        it reads them: memory stays the same however many there are."""
        params = _query(_file_filters(filters))
        with self._stream("GET", "/files", params, accept=NDJSON) as response:
            yield from ndjson.entries(response.iter_bytes())

    def file_lines(self, **filters: Any) -> Iterator[list[bytes]]:
        """The files ``each_file`` gives, each as the JSON text the server wrote (UTF-8,
        one line without its newline), a list at a time as they arrive: a listing passed
        on as it is, without parsing a million entries."""
        params = _query(_file_filters(filters))
        with self._stream("GET", "/files", params, accept=NDJSON) as response:
            yield from ndjson.batches(response.iter_bytes())

    def transactions(self, **filters: Any) -> list[Transaction]:
        """Transactions: id, transaction_id, job_label, job_label_regex, api_action,
        exclude_api_action, state (lists), sub_id, group, groupall, limit, descending."""
        reply = self._call("GET", "/transactions", params=_query(filters))
        return cast(list[Transaction], reply["transactions"])

    def transaction(self, transaction_id: str, groupall: bool = False) -> Transaction:
        params = {"groupall": "true"} if groupall else None
        reply = self._call("GET", f"/transactions/{transaction_id}", params=params)
        return cast(Transaction, reply)

    def history(
        self,
        *,
        holding_id: int | None = None,
        transaction_id: str | None = None,
        path: PathLike | None = None,
    ) -> list[HistoryEntry]:
        """Your events about a holding, a transaction or a path (any of those given),
        oldest first, as the server reads them from its log."""
        filters: dict[str, Any] = {"holding_id": holding_id, "transaction_id": transaction_id}
        if path is not None:
            wire = wire_path(path)
            filters["path_b64" if isinstance(wire, dict) else "path"] = (
                wire["path_b64"] if isinstance(wire, dict) else wire
            )
        reply = self._call("GET", "/history", params=_query(filters))
        return cast(list[HistoryEntry], reply["events"])

    def quota(self) -> dict[str, Any]:
        """Your and your group's cache and tape use, with the quotas."""
        return cast(dict[str, Any], self._call("GET", "/quota"))

    # -- carts ---------------------------------------------------------------------------

    def create_cart(
        self,
        paths: Sequence[PathLike] = (),
        *,
        regex: str | None = None,
        label: str | None = None,
        holding_id: int | None = None,
        tags: Mapping[str, str] | None = None,
        groupall: bool = False,
        cart_id: str | None = None,
        group: str | None = None,
    ) -> Cart:
        """Ask for a cart of the files a FIND with these filters shows."""
        body = _selection(paths, regex, label, holding_id, tags) | {
            "groupall": groupall,
            "cart_id": cart_id,
            "group": group,
        }
        return cast(Cart, self._call("POST", "/carts", json=_drop_none(body)))

    def carts(self) -> list[Cart]:
        return cast(list[Cart], self._call("GET", "/carts")["carts"])

    def cart(self, cart_id: str) -> Cart:
        return cast(Cart, self._call("GET", f"/carts/{cart_id}"))

    def delete_cart(self, cart_id: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("DELETE", f"/carts/{cart_id}"))

    def download_cart(self, cart_id: str, filename: str | None = None) -> Iterator[bytes]:
        """The cart's tar, streamed in chunks; Refused (409) while it is not ready."""
        params = {"filename": filename} if filename else None
        with self._stream("GET", f"/carts/{cart_id}/download", params=params) as response:
            yield from response.iter_bytes()

    def save_cart(self, cart_id: str, destination: Path, filename: str | None = None) -> int:
        """Download the cart's tar into ``destination``; returns its size in bytes."""
        size = 0
        partial = destination.with_name(destination.name + ".partial")
        try:
            with partial.open("wb") as f:
                for chunk in self.download_cart(cart_id, filename or destination.name):
                    f.write(chunk)
                    size += len(chunk)
        except BaseException:
            partial.unlink(missing_ok=True)  # never leave half a tar behind
            raise
        partial.replace(destination)
        return size

    # -- transport -----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        if self.session is None:
            raise errors.NotLoggedIn()
        if self.session.expired():
            self.refresh()
        assert self.session is not None
        return {"Authorization": f"Bearer {self.session.access_token}"}

    def _call(self, method: str, route: str, **kwargs: Any) -> Any:
        response = self._send(method, API + route, **kwargs)
        if response.status_code >= 400:
            raise _error(response)
        return _json(response)

    def _send(
        self, method: str, path: str, *, authenticated: bool = True, **kwargs: Any
    ) -> httpx.Response:
        response = self._once(method, path, authenticated, **kwargs)
        if authenticated and response.status_code == 401:
            self.refresh()  # the access token was refused before its time: try once more
            response = self._once(method, path, authenticated, **kwargs)
            if response.status_code == 401:
                raise errors.NotLoggedIn("The server refused your login.")
        return response

    def _once(self, method: str, path: str, authenticated: bool, **kwargs: Any) -> httpx.Response:
        headers = self._headers() if authenticated else {}
        try:
            return self.http.request(method, self.server + path, headers=headers, **kwargs)
        except httpx.TransportError as error:
            raise errors.ServerUnreachable(
                self.server, str(error) or type(error).__name__
            ) from None

    @contextmanager
    def _stream(
        self, method: str, route: str, params: Any = None, accept: str | None = None
    ) -> Iterator[httpx.Response]:
        """A response whose body is read as it arrives; error replies raise first."""
        headers = self._headers()
        if accept is not None:
            headers["Accept"] = accept
        request = self.http.build_request(
            method,
            self.server + API + route,
            params=params,
            headers=headers,
            timeout=DOWNLOAD_TIMEOUT,
        )
        try:
            response = self.http.send(request, stream=True)
        except httpx.TransportError as error:
            raise errors.ServerUnreachable(self.server, str(error)) from None
        try:
            if response.status_code == 401:
                raise errors.NotLoggedIn("The server refused your login.")
            if response.status_code >= 400:
                response.read()
                raise _error(response)
            yield response
        finally:
            response.close()


def whole_deletion(
    paths: Sequence[PathLike],
    regex: str | None,
    label: str | None,
    holding_id: int | None,
    whole_holdings: bool,
) -> str | None:
    """Why a DELETE is unclear, or None. To the API, a DELETE of no paths and no regex
    deletes whole holdings; the library (and the ``nearline del`` command) asks for that
    in words, and for the holding by label or id, so it never happens by accident."""
    if whole_holdings:
        if paths or regex is not None:
            return (
                "A whole-holding delete takes no paths and no regular expression: it "
                "deletes every file of the holding and the holding itself."
            )
        if label is None and holding_id is None:
            return "Name the holding to delete whole by its label or its id."
        return None
    if not paths and regex is None:
        return (
            "Give paths or a regular expression ('.' for every file, keeping the holding); "
            "or ask for the whole holding to be deleted, with its label or id."
        )
    return None


def _selection(
    paths: Sequence[PathLike],
    regex: str | None,
    label: str | None,
    holding_id: int | None,
    tags: Mapping[str, str] | None,
) -> dict[str, Any]:
    return {
        "paths": [wire_path(p) for p in paths],
        "regex": regex,
        "label": label,
        "holding_id": holding_id,
        "tags": dict(tags or {}),
    }


def _command(body: dict[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """A command body with its options (group, job_label, transaction_id)."""
    unknown = set(options) - {"group", "job_label", "transaction_id"}
    if unknown:
        raise TypeError(f"unknown options: {', '.join(sorted(unknown))}")
    return _drop_none(body | dict(options))


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _file_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """FIND's filters with the path as the wire takes it (text, or base64 of its bytes)."""
    path = filters.pop("path", None)
    if path is not None:
        wire = wire_path(path)
        filters["path_b64" if isinstance(wire, dict) else "path"] = (
            wire["path_b64"] if isinstance(wire, dict) else wire
        )
    return filters


def _query(filters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query parameters: lists repeat, tags become ``tag=key:value``, booleans are words."""
    params: list[tuple[str, str]] = []
    for name, value in filters.items():
        if value is None or value is False or value == [] or value == {}:
            continue
        if name == "tags":
            params += [("tag", f"{_escaped(k)}:{_escaped(v)}") for k, v in value.items()]
        elif isinstance(value, list | tuple):
            params += [(name, str(v)) for v in value]
        elif value is True:
            params.append((name, "true"))
        else:
            params.append((name, str(value)))
    return params


def _escaped(text: str) -> str:
    """A tag's key or value in the query form ``key:value``: a backslash before each
    backslash, colon, comma and space, so the API reads them as part of it."""
    return "".join("\\" + c if c in "\\:, " else c for c in text)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"detail": response.text}


def _error(response: httpx.Response) -> errors.NearlineError:
    """The exception for an error reply, with the API's message."""
    status = response.status_code
    body = _json(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # FastAPI's validation errors
        detail = "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}" for d in detail
        )
    message = str(detail or response.reason_phrase or f"HTTP {status}")
    if status == 403 and message.startswith("Not authenticated"):
        return errors.NotLoggedIn()
    if status == 404:
        return errors.NotFound(message, status=status)
    if status >= 500:
        return errors.ServerError(message, "Try again later.", status)
    return errors.Refused(message, status=status)
