"""The decider's ports onto the catalog projection, built from the read side: the only
module of the decider that imports ``projections`` (decision D140)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, ProgrammingError

from domain.queries import InvalidQuery
from events.requests import GetRequested
from nearline.settings import Settings
from processors.catalog.ports import Selection, Selector, TapeCopy
from processors.catalog.quotas import Usage
from projections.queries.reader import catalog_reader
from projections.queries.selection import select_for_get
from projections.usage import ProjectionUsage


def read_model(settings: Settings) -> tuple[Selector, Usage]:
    """The GET selection and the quotas' use, both read through one read-only engine."""
    catalog = catalog_reader(settings)
    return catalog_selector(catalog), ProjectionUsage(catalog)


def catalog_selector(engine: Engine) -> Selector:
    """A ``Selector`` reading the catalog through ``engine`` (read-only).

    The database refusing this request's query (bad data, a query it cannot run) rejects
    the GET rather than stop the decider on it; losing the connection raises, so that
    the request is handled again once the database is back.
    """

    def select(request: GetRequested) -> Selection:
        try:
            with engine.connect() as conn:
                found = select_for_get(conn, request)
        except (DataError, ProgrammingError) as error:
            code = getattr(error.orig, "sqlstate", None) or type(error.orig).__name__
            raise InvalidQuery(
                f"The catalog could not answer this request ({code}); check its paths, "
                "regular expression, label and tags."
            ) from None
        copies = {i: TapeCopy(*copy) for i, copy in found.tape_copies.items()}
        return Selection(found.files, found.on_tape, found.not_found, copies)

    return select
