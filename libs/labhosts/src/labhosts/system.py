"""Small wrappers over the commands and /proc files the harness uses."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def run(argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; raise with the output when it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip() or done.stdout}"
        )
    return done


def processes() -> Iterable[tuple[int, list[str]]]:
    """Every process on the machine with its command line."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if raw:
            yield int(entry.name), raw.decode(errors="replace").rstrip("\0").split("\0")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # A zombie has exited; only its parent's wait is missing.
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def reap(pid: int) -> None:
    """Collect an exited child so it does not stay a zombie (harmless if not our child)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def terminate(pids: Iterable[int], *, grace: float) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL what is left."""
    pending = [pid for pid in pids if alive(pid)]
    for pid in pending:
        _signal(pid, signal.SIGTERM)
    wait_until(lambda: not any(_still(pid) for pid in pending), timeout=grace)
    for pid in pending:
        if _still(pid):
            _signal(pid, signal.SIGKILL)
    wait_until(lambda: not any(_still(pid) for pid in pending), timeout=10)


def _still(pid: int) -> bool:
    reap(pid)
    return alive(pid)


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def mount_points() -> list[Path]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        points.append(Path(point))
    return points


def unmount_below(directory: Path) -> None:
    """Unmount everything mounted at or below ``directory``, deepest first."""
    below = [p for p in mount_points() if p == directory or directory in p.parents]
    for point in sorted(set(below), key=lambda p: len(p.parts), reverse=True):
        run(["umount", "--lazy", str(point)], check=False)
