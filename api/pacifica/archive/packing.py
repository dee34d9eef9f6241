"""Small uploads stored together: the bodies of small files that arrive at about the same
time (from concurrent clients) become one pack object (D90, D152), each file a slice of
it, so that a thousand small PUTs cost tens of objects, not a thousand.

A body joins the pack being gathered; the pack is written when it reaches the target
size or when the gathering window (``pacifica.pack_window_s``) closes, and every member then
records its own upload with its slice key. Each member's outcome is told back: a pack of
which no member was cataloged (all refused, e.g. ids archived already) is deleted, so a
refused upload leaves no object. A pack with one cataloged member stays, as every pack
does, until its last cataloged slice leaves the cache; a refused member's bytes are dead
weight in it until then. All of it runs on the event loop: no locks.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from domain.object_keys import key_prefix
from domain.pack_keys import Slice, pack_key

log = logging.getLogger("nearline.pacifica")

WINDOW_S = 0.1  # how long a pack gathers bodies (pacifica.pack_window_s)

PutPack = Callable[[str, bytes, str], None]
"""Store these bytes, whose sha256 is given, at this key (blocking; run in a thread)."""
DeletePack = Callable[[str], None]


@dataclass
class _Gathering:
    holding_id: int
    data: bytearray = field(default_factory=bytearray)
    waiting: list[tuple[int, int, asyncio.Future[Slice]]] = field(default_factory=list)


@dataclass
class _Written:
    members: int
    settled: int = 0
    kept: bool = False


class Packer:
    """Gathers small bodies into packs of about ``target_bytes``."""

    def __init__(
        self,
        put: PutPack,
        delete: DeletePack,
        target_bytes: int,
        window_s: float = WINDOW_S,
    ) -> None:
        self._put, self._delete = put, delete
        self._target, self._window = target_bytes, window_s
        self._gathering: _Gathering | None = None
        self._written: dict[str, _Written] = {}

    async def add(self, holding_id: int, data: bytes) -> Slice:
        """The slice of a written pack that holds ``data``; raises if the pack could not
        be written (then no member has a slice)."""
        gathering = self._gathering
        if gathering is None:
            gathering = self._gathering = _Gathering(holding_id)
            asyncio.get_running_loop().call_later(self._window, self._close, gathering)
        future: asyncio.Future[Slice] = asyncio.get_running_loop().create_future()
        gathering.waiting.append((len(gathering.data), len(data), future))
        gathering.data += data
        if len(gathering.data) >= self._target:
            self._close(gathering)
        return await future

    def _close(self, gathering: _Gathering) -> None:
        if self._gathering is gathering:
            self._gathering = None
            asyncio.get_running_loop().create_task(self._write(gathering))

    async def _write(self, gathering: _Gathering) -> None:
        data = bytes(gathering.data)
        sha256 = hashlib.sha256(data).hexdigest()
        # A prefix of its own: a pack is no transaction's, and its key is its content's.
        prefix = key_prefix(gathering.holding_id, f"pack-{uuid.uuid4()}")
        key = pack_key(prefix, sha256)
        try:
            await asyncio.to_thread(self._put, key, data, sha256)
        except Exception as error:
            for _offset, _size, future in gathering.waiting:
                if not future.done():
                    future.set_exception(error)
            return
        written = self._written[key] = _Written(len(gathering.waiting))
        for offset, size, future in gathering.waiting:
            if future.done():  # its request was cancelled: it will record nothing
                written.settled += 1
            else:
                future.set_result(Slice(key, offset, size))
        if written.settled == written.members:
            await self._forget(key, written)

    async def settled(self, part: Slice, cataloged: bool | None) -> None:
        """A member's outcome (None: not known, so taken as kept); the pack is deleted
        once every member settled and none was cataloged."""
        written = self._written.get(part.pack)
        if written is None:
            return
        written.settled += 1
        written.kept = written.kept or cataloged is not False
        if written.settled >= written.members:
            await self._forget(part.pack, written)

    async def _forget(self, key: str, written: _Written) -> None:
        self._written.pop(key, None)
        if not written.kept:
            try:
                await asyncio.to_thread(self._delete, key)
            except Exception as error:
                log.warning("could not delete the unused pack %s: %s", key, error)
