"""Schemathesis against an application in-process: requests generated from
/api/v1/openapi.json, valid and invalid ones alike, must never cause a server error.

(Driven through Hypothesis directly: schemathesis' pytest loader does not run under
pytest 9 yet.)"""

from __future__ import annotations

import itertools

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from starlette.types import ASGIApp


def no_server_errors(app: ASGIApp, headers: dict[str, str], per_operation: int) -> int:
    """Fuzz every operation in both generation modes; returns how many operations."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @examples(
            max_examples=per_operation, deadline=None, suppress_health_check=list(HealthCheck)
        )
        def no_server_error(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])

        no_server_error()
    return len(operations)
