"""What the archive interface's routes share: the API's services, one object store client
for the cache (thread-safe, made on first use, closed with the app), and the packer that
gathers small bodies."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from api.pacifica.archive.packing import Packer
from api.services import Services
from domain.pacifica import holding_label
from nearline.settings import PacificaSettings
from stores.s3.object_store import ObjectStore


@dataclass
class Archive:
    services: Services
    _store: ObjectStore | None = None
    _packer: Packer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pacifica(self) -> PacificaSettings:
        return self.services.settings.pacifica

    @property
    def label(self) -> str:
        """The label of the namespace's holding (D145)."""
        return holding_label(self.pacifica.namespace)

    def store(self) -> ObjectStore:
        with self._lock:
            if self._store is None:
                self._store = ObjectStore(self.services.settings, direct=False)
            return self._store

    def packer(self) -> Packer:
        """Where small bodies are gathered into packs (one per process, on its loop)."""
        if self._packer is None:
            store = self.store()

            def put(key: str, data: bytes, sha256: str) -> None:
                store.put_bytes(key, data, sha256, {})

            settings = self.services.settings
            self._packer = Packer(
                put, store.delete, settings.s3.pack_bytes, settings.pacifica.pack_window_s
            )
        return self._packer

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
