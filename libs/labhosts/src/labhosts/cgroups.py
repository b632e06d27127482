"""A cgroup of its own for each host.

Without a systemd on this machine, systemd-nspawn puts every container under the same
cgroup (``/payload`` below its own). Two hosts' systemd then create and remove the same
unit cgroups and units fail at random with status 219/CGROUP (seen here: hostnamed and
systemd-user-sessions, which leaves /run/nologin and so refuses SSH logins). Starting each
nspawn inside ``/labhosts-<name>`` keeps the hosts apart.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# The hierarchies systemd uses: the named v1 one and the unified (v2) one.
HIERARCHIES = ("systemd", "unified")
PREFIX = "labhosts-"


def host_cgroups(name: str, root: Path = CGROUP_ROOT) -> list[Path]:
    """Create (if needed) and return the host's cgroup in each hierarchy present."""
    made = []
    for hierarchy in HIERARCHIES:
        base = root / hierarchy
        if (base / "cgroup.procs").exists():
            group = base / f"{PREFIX}{name}"
            group.mkdir(exist_ok=True)
            made.append(group)
    return made


def our_cgroups(root: Path = CGROUP_ROOT) -> list[Path]:
    return [
        group
        for hierarchy in HIERARCHIES
        if (root / hierarchy).is_dir()
        for group in (root / hierarchy).glob(f"{PREFIX}*")
        if group.is_dir()
    ]


def remove_cgroup(group: Path) -> None:
    """Remove a cgroup and the ones inside it, deepest first (they must be empty)."""
    for directory, _subdirs, _files in sorted(os.walk(group), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            os.rmdir(directory)
