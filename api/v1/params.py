"""Query parameters several routes of nearline's API share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.inputs import DbInt

TagsQuery = Annotated[list[str], Query(description="key:value; repeat for several, all must match")]
Limit = Annotated[DbInt, Query(ge=1, le=100_000)]
