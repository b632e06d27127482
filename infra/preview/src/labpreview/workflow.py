"""The preview workflows' steps as `lab-preview` subcommands (filled in below)."""

from __future__ import annotations

from typing import Any


def add_commands(commands: Any) -> None:
    """Register the workflow subcommands on `lab-preview`."""
