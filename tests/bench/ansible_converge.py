"""Benchmark: first converge of fresh virtual hosts vs. the idempotent second run.

Boots the sandbox's virtual hosts (libs/labhosts), runs playbooks/site.yml twice with the
repository's ansible.cfg (SSH pipelining and the JSON fact cache on) and prints both
times. Target: the second run takes at most a third of the first. The wheelhouse cache
under .cache/wheelhouse is cleared first so the first run pays for building it, as on a
fresh controller; the apt packages come through the proxy from the Debian archive.
Needs root. The hosts are always removed at the end.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from labhosts import Lab
from labhosts.playbooks import find_workspace, prepare_controller, run_playbook

TARGET_RATIO = 1 / 3


def main() -> int:
    root = find_workspace(Path(__file__).parent)
    lab = Lab()
    try:
        started = time.monotonic()
        lab.up(log=False)
        boot = time.monotonic() - started
        prepare_controller(root, [h.name for h in lab.hosts])
        shutil.rmtree(root / ".cache" / "wheelhouse", ignore_errors=True)
        first = run_playbook(root, "playbooks/site.yml")
        second = run_playbook(root, "playbooks/site.yml")
    finally:
        lab.down()
    for label, run in (("first", first), ("second", second)):
        if run.returncode != 0:
            print(f"{label} converge failed:\n{run.output[-3000:]}", file=sys.stderr)
            return 1
    changed = {host: counts["changed"] for host, counts in second.recap().items()}
    ratio = second.seconds / first.seconds
    print(f"hosts booted ({len(lab.hosts)}, cached image): {boot:6.1f} s")
    print(f"first converge (fresh hosts, cold wheelhouse): {first.seconds:6.1f} s")
    print(f"second converge (idempotent, changed={changed}): {second.seconds:6.1f} s")
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"second / first = {ratio:.2f} ({verdict} the target of <= {TARGET_RATIO:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
