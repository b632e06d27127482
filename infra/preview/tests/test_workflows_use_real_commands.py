"""Every `lab-preview` command line in the workflows and the shared action names a command
that exists, with options that command accepts (a typo would only show on GitHub)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import yaml

from labpreview.cli import build_parser

REPO = Path(__file__).resolve().parents[3]
FILES = [
    *sorted((REPO / ".github/workflows").glob("*.yml")),
    REPO / ".github/actions/lab-tools/action.yml",
]
CALL = re.compile(r"lab-preview\s+(?P<command>[a-z-]+)(?P<rest>[^\n|>;&]*)")


def scripts(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps = [s for job in (data.get("jobs") or {}).values() for s in job.get("steps") or []]
    steps += (data.get("runs") or {}).get("steps") or []
    return [s["run"].replace("\\\n", " ") for s in steps if "run" in s]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def calls() -> list[tuple[str, str, str]]:
    found = []
    for path in FILES:
        for script in scripts(path):
            for match in CALL.finditer(script):
                found.append((path.name, match["command"], match["rest"]))
    return found


def test_the_workflows_call_lab_preview() -> None:
    commands = {command for _, command, _ in calls()}
    assert {"validate", "stack-config", "stale-stacks", "comment", "preserve"} <= commands


@pytest.mark.parametrize(("file", "command", "rest"), calls())
def test_each_call_is_a_real_command_with_real_options(file: str, command: str, rest: str) -> None:
    known = subcommands()
    assert command in known, f"{file}: lab-preview {command} does not exist"
    options = set(known[command]._option_string_actions)
    for option in re.findall(r"(?<!\S)(--[a-z][a-z-]*)", rest):
        assert option in options, f"{file}: lab-preview {command} has no option {option}"
