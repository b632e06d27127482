"""Fuzz every operation of the native API's OpenAPI spec (schemathesis) against the real
processes in simulation: whatever arrives, the answer is never a 5xx.

The schema is loaded inside the test (not with schemathesis' pytest integration, whose
lazy loader does not work with this pytest), and each operation runs as a hypothesis test.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import TOKEN, DomeServer

pytestmark = pytest.mark.integration

SKIP = {"/api/events"}  # the live stream never ends by design; the page test covers it


def test_no_input_makes_the_api_fail(dome_server: DomeServer) -> None:
    schema = schemathesis.openapi.from_url(f"{dome_server.url}/openapi.json")
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIP:
            continue

        @settings(
            max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
            case.validate_response(response, checks=[not_a_server_error])

        run()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert len(tested) >= 20, tested
