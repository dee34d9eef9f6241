"""Input types both surfaces declare, so that out-of-range values are refused as bad
requests (422) rather than reaching the database."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

DbInt = Annotated[int, Interval(ge=-(2**63), le=2**63 - 1)]
"""An integer a BIGINT column can be compared with."""

SubBatchInt = Annotated[int, Interval(ge=0, le=2**31 - 1)]
"""A sub-batch number: an INTEGER column, counted from 0."""
