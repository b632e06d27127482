"""Run the lab's projects for one stack in deployment order, as the engine would.

proxmox -> cluster -> platform -> apps (the VMs reach the cluster through the inventory,
not a StackReference): each later project's StackReference receives the outputs the
earlier project's run actually exported (secret ones stay secret), so a renamed or
un-exported output breaks here the way it would break `pulumi up`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labinfra.offline.harness import (
    RunOptions,
    StackOutputs,
    StackRun,
    load_stack_config,
    run_project,
)

INFRA_DIR = Path(__file__).resolve().parents[4]
PROJECTS_DIR = INFRA_DIR / "projects"
MONITORING_DIR = INFRA_DIR / "monitoring"
ORDER = ("proxmox", "cluster", "platform", "apps")
"""Deployment order: the VMs before k3s on them, then what runs on the cluster."""
ORGANIZATION = "organization"


def stand_in_checksums(stack: str = "lab") -> dict[str, dict[str, Any]]:
    """Overrides that give the cluster stack stand-in k3s checksums.

    The example stack keeps zeros where the operator copies the release's sums (they were
    not available where this repository is built), and zeros are refused by the config
    check. Offline runs use stand-ins, as they use stand-ins for `secure:` values; they are
    plainly not the release's (sha256 of a label) and never reach a node.
    """
    project, config = load_stack_config(PROJECTS_DIR / "cluster", stack)
    release = dict(config.get(f"{project}:k3s") or {})

    def digest(label: str) -> str:
        return hashlib.sha256(f"offline stand-in: {label}".encode()).hexdigest()

    release["sha256"] = {"amd64": digest("k3s amd64"), "arm64": digest("k3s arm64")}
    release["installScriptSha256"] = digest("install.sh")
    return {"cluster": {"k3s": release}}


def run_lab(
    stack: str = "lab",
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    stand_ins: bool = True,
) -> dict[str, StackRun]:
    """Every project's run for `stack`; `overrides[project]` changes that project's config.

    `stand_ins` gives the cluster stack stand-in k3s checksums (`stand_in_checksums`),
    under whatever `overrides` says.
    """
    merged: dict[str, dict[str, Any]] = stand_in_checksums(stack) if stand_ins else {}
    for project, values in (overrides or {}).items():
        merged[project] = {**merged.get(project, {}), **values}
    overrides = merged
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
    return {
        "proxmox": {"inventory": path},
        "cluster": {"inventory": path},
        "platform": {"inventory": path},
        "apps": {"inventory": path},
    }
