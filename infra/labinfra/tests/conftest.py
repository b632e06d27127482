from __future__ import annotations

from pathlib import Path

import pytest

from labinfra.offline.harness import StackRun
from labinfra.offline.lab import inventory_overrides, run_lab
from labinfra.offline.validate import (
    CrdCatalog,
    crd_catalog,
    find_crd_schemas,
)

FIXTURE_INVENTORY = Path(__file__).parent / "fixtures" / "hosts.yml"


@pytest.fixture(scope="session")
def lab_runs() -> dict[str, StackRun]:
    """The example `lab` stacks of all three projects, on the fixture inventory."""
    return run_lab("lab", overrides=inventory_overrides(FIXTURE_INVENTORY))


@pytest.fixture(scope="session")
def crds() -> CrdCatalog:
    """The vendored CRD schemas. A missing schema folder errors every test that needs it."""
    return crd_catalog(find_crd_schemas())
