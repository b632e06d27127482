"""Benchmark: the firewall role alone on fresh virtual hosts, then idempotent, then --check.

Boots the sandbox's virtual hosts (libs/labhosts), runs playbooks/firewall.yml three times
(first: installs nftables through the hosts' apt proxy and loads the table; second: must
change nothing; third: --check) and prints each time, with the role's share of an
idempotent run as a ratio to the first. Needs root and the machine-wide lock:

    flock /run/lock/labhosts.lock uv run python tests/bench/firewall_converge.py

The hosts are always removed at the end.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from labhosts import Lab
from labhosts.playbooks import PlaybookRun, find_workspace, prepare_controller, run_playbook

PLAY = "playbooks/firewall.yml"


def main() -> int:
    root = find_workspace(Path(__file__).parent)
    lab = Lab()
    runs: dict[str, PlaybookRun] = {}
    try:
        started = time.monotonic()
        lab.up(log=False)
        boot = time.monotonic() - started
        prepare_controller(root, [h.name for h in lab.hosts])
        runs["first (fresh hosts)"] = run_playbook(root, PLAY)
        runs["second (idempotent)"] = run_playbook(root, PLAY)
        runs["--check"] = run_playbook(root, PLAY, "--check")
    finally:
        lab.down()
    for label, run in runs.items():
        if run.returncode != 0:
            print(f"{label} failed:\n{run.output[-3000:]}", file=sys.stderr)
            return 1
    print(f"hosts booted ({len(lab.hosts)}, cached image): {boot:6.1f} s")
    for label, run in runs.items():
        changed = {host: counts["changed"] for host, counts in run.recap().items()}
        print(f"{PLAY} {label:22s} {run.seconds:6.1f} s  changed={changed}")
    first = runs["first (fresh hosts)"].seconds
    second = runs["second (idempotent)"].seconds
    print(f"idempotent / first = {second / first:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
