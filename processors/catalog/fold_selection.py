"""Which of a user's own holdings and files a DELETE or META selects, from the decider's fold
(GET selects from the projection instead: ``selection``)."""

from __future__ import annotations

from collections.abc import Mapping

from processors.catalog.state import CatalogState, Holding


def own_holdings(
    state: CatalogState,
    user: str,
    label: str | None,
    holding_id: int | None,
    tags: Mapping[str, str],
) -> list[Holding]:
    """The user's own holdings (never the group's) that every given filter picks."""
    if label is not None:
        found = state.labels.get((user, label))
        candidates = [state.holdings[found]] if found in state.holdings else []
    else:
        candidates = [h for h in state.holdings.values() if h.user == user]
    return sorted(
        (
            h
            for h in candidates
            if (holding_id is None or h.id == holding_id)
            and all(h.tags.get(k) == v for k, v in tags.items())
        ),
        key=lambda h: h.id,
    )


def path_text(path: bytes) -> str:
    """The text a regex is matched against: the API's (bytes beyond UTF-8 as ``\\xNN``)."""
    return path.decode("utf-8", "backslashreplace")
