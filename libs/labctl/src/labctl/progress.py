"""What `make lab` prints while it works: the step, the host, the time since it started."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO


class StepError(Exception):
    """A step of `make lab` failed; the message names the step, the host and the log."""

    def __init__(self, step: str, message: str, *, host: str = "", log: Path | None = None):
        self.step, self.host, self.log = step, host, log
        where = f" on {host}" if host else ""
        read = f"\n  log: {log}" if log else ""
        super().__init__(f"step {step} failed{where}: {message}{read}")


class Progress:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, step: str, message: str, host: str = "") -> None:
        print(
            f"lab [{self.elapsed:6.1f}s] {step:<10} {host:<9} {message}", file=self.out, flush=True
        )
