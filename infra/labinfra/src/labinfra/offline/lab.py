"""Run the lab's three projects for one stack in deployment order, as the engine would.

cluster -> platform -> apps: each later project's StackReference receives the outputs the
earlier project's run actually exported (secret ones stay secret), so a renamed or
un-exported output breaks here the way it would break `pulumi up`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labinfra.offline.harness import RunOptions, StackOutputs, StackRun, run_project

INFRA_DIR = Path(__file__).resolve().parents[4]
PROJECTS_DIR = INFRA_DIR / "projects"
MONITORING_DIR = INFRA_DIR / "monitoring"
ORDER = ("cluster", "platform", "apps")
ORGANIZATION = "organization"


def run_lab(
    stack: str = "lab",
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, StackRun]:
    """Every project's run for `stack`; `overrides[project]` changes that project's config."""
    overrides = overrides or {}
    runs: dict[str, StackRun] = {}
    references: dict[str, StackOutputs] = {}
    for project in ORDER:
        run = run_project(
            PROJECTS_DIR / project,
            stack,
            RunOptions(overrides=dict(overrides.get(project, {})), stack_references=references),
        )
        runs[project] = run
        references = {
            **references,
            f"{ORGANIZATION}/{run.project}/{stack}": StackOutputs(run.outputs, run.secret_outputs),
        }
    return runs


def inventory_overrides(inventory: Path) -> dict[str, dict[str, Any]]:
    """Point the projects that read the inventory at `inventory`."""
    path = str(inventory.resolve())
    return {"cluster": {"inventory": path}, "platform": {"inventory": path}}
