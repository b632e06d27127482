"""The OpenAPI spec fuzzed with schemathesis against the daemon on the simulated lab,
over real HTTP: no input may produce a 5xx (instruments are all up, so a 5xx is a bug),
and documented responses must match their schemas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from daq.api.app import create_app
from daq.assembly import build_lab
from daq.config import DaqSettings
from daq.sim.lab import SimLab
from labkit.testing import ServerThread

pytestmark = pytest.mark.integration
TOKEN = "fuzz-token-0123456789abcdef"


@pytest.fixture(scope="module")
def fuzz_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    with SimLab(root, warmup_seconds=0.2) as sims:
        config: dict[str, Any] = sims.config(root / "data")
        config["monitor_interval_s"] = 5
        lab = build_lab(DaqSettings(api_token=TOKEN, **config))  # type: ignore[arg-type]
        with ServerThread(create_app(lab, TOKEN), stop_timeout=30) as server:
            yield server.url


REAL_NAMES: dict[str, dict[str, Any]] = {
    "/api/stages/": {"name": "stage", "axis": 1},
    "/api/powermeters/": {"name": "meter"},
    "/api/lasers/": {"name": "laser"},
    "/api/mounts/": {"name": "mount1"},
    "/api/instruments/": {"name": "meter"},
    "/api/readings/": {"name": "meter.power"},
}


def test_no_input_makes_a_server_error(fuzz_url: str) -> None:
    """Every operation, positive and negative cases. (schemathesis' own pytest plugin does
    not run on this pytest version, so operations are driven through hypothesis here.)"""
    schema = schemathesis.openapi.from_url(f"{fuzz_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    tried: list[str] = []
    statuses: dict[int, int] = {}
    for operation in operations:

        @given(case=operation.as_strategy(), real_names=st.booleans())
        @settings(
            max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def exercise(case: Any, real_names: bool) -> None:
            if real_names and case.path_parameters:
                # random names only ever reach the 404 path: half the time aim at real ones
                for prefix, names in REAL_NAMES.items():
                    if case.path.startswith(prefix):
                        case.path_parameters.update(names)
            response = case.call_and_validate(
                base_url=fuzz_url,
                headers={"Authorization": f"Bearer {TOKEN}"},
                checks=[not_a_server_error, response_schema_conformance],
                timeout=30,
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        exercise()
        tried.append(operation.label)
    assert len(tried) == len(operations)
    assert statuses.get(200, 0) > 50, statuses  # the fuzz reached the instruments too
