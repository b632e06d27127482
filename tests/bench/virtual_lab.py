"""Benchmark: `make lab` from nothing, then `make lab` again on the running lab.

Fresh means what a new machine has after `make bootstrap`: no Debian tree for the hosts
(the image cache is pointed at an empty temporary folder, so debootstrap runs), no built
wheelhouses (.cache/wheelhouse is moved aside and put back afterwards), no pip or uv
download cache, no Ansible fact cache, no hosts. The packages the hosts install come from
the Debian archive through the harness's proxy, as on a first run. What `make bootstrap`
itself installs on this machine (apt packages, uv, the workspace) is not undone.

Targets: fresh to a running lab in under 6 minutes; the second run under 90 s. Needs root,
and the machine-wide lock (`flock /run/lock/labhosts.lock uv run python
tests/bench/virtual_lab.py`). The lab is always removed at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labhosts.playbooks import find_workspace

FRESH_TARGET_S = 6 * 60
AGAIN_TARGET_S = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    root = find_workspace(Path(__file__).parent)
    scratch = Path(tempfile.mkdtemp(prefix="bench-virtual-lab-"))
    wheelhouses = root / ".cache" / "wheelhouse"
    kept = root / ".cache" / f"wheelhouse.bench-{os.getpid()}"
    env = {
        **os.environ,
        "LABHOSTS_CACHE": str(scratch / "image-cache"),
        "PIP_NO_CACHE_DIR": "1",
        "UV_NO_CACHE": "1",
    }
    ports = [f"--prometheus-port={free_port()}", f"--alertmanager-port={free_port()}"]
    argv = [sys.executable, "-m", "labctl"]
    state = [f"--state-dir={scratch / 'state'}"]

    def labctl(command: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        started = time.monotonic()
        done = subprocess.run(
            [*argv, command, *state, *ports],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        return time.monotonic() - started, done

    subprocess.run([*argv, "down", *state, *ports], cwd=root, env=env, capture_output=True)
    if wheelhouses.exists():
        wheelhouses.rename(kept)
    shutil.rmtree(root / ".cache" / "ansible" / "facts", ignore_errors=True)
    try:
        fresh_s, fresh = labctl("up")
        again_s, again = (0.0, None) if fresh.returncode else labctl("up")
    finally:
        labctl("down")
        shutil.rmtree(wheelhouses, ignore_errors=True)
        if kept.exists():
            kept.rename(wheelhouses)
        shutil.rmtree(scratch, ignore_errors=True)
    for label, run in (("fresh", fresh), ("again", again)):
        if run is not None and run.returncode != 0:
            print(
                f"make lab ({label}) failed:\n{(run.stdout + run.stderr)[-3000:]}", file=sys.stderr
            )
            return 1
    assert again is not None
    steps = re.findall(r"^lab \[\s*(\d+\.\d+)s\] (\w+)", fresh.stdout, re.MULTILINE)
    first_at: dict[str, float] = {}
    for at, step in steps:
        first_at.setdefault(step, float(at))
    print("make lab, fresh machine (no image, no wheelhouses, no download caches):")
    for step, at in first_at.items():
        print(f"  {step:<10} started at {at:6.1f} s")
    verdict = "meets" if fresh_s < FRESH_TARGET_S else "MISSES"
    print(f"  total {fresh_s:6.1f} s ({verdict} the target of < {FRESH_TARGET_S} s)")
    verdict = "meets" if again_s < AGAIN_TARGET_S else "MISSES"
    print(f"make lab again on the running lab: {again_s:6.1f} s ({verdict} < {AGAIN_TARGET_S} s)")
    changed = re.search(r"changed: (\S+=\d+(?:, \S+=\d+)*)", again.stdout)
    print(f"  second converge: changed {changed[1] if changed else '?'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
