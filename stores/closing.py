"""One shape for the adapters that hold connections, processes or descriptors."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """Released by ``close()``; ``with`` it, it is closed at the end of the block."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
