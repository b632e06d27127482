"""Running the workspace's playbooks against the virtual hosts (tests and benchmark)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml


def find_workspace(start: Path | None = None) -> Path:
    """The repository root: the nearest directory above with ansible.cfg and playbooks/."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "ansible.cfg").is_file() and (candidate / "playbooks").is_dir():
            return candidate
    raise FileNotFoundError(f"no workspace with ansible.cfg and playbooks/ above {here}")


RECAP_LINE = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class PlaybookRun:
    returncode: int
    output: str
    seconds: float

    def recap(self) -> dict[str, dict[str, int]]:
        """Per host, the counts of the (last) PLAY RECAP."""
        tail = self.output.rsplit("PLAY RECAP", 1)[-1]
        return {
            m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
            for m in RECAP_LINE.finditer(tail)
        }


def ansible_bin(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (uv sync --all-packages)")
    return found


def run_playbook(
    root: Path, *args: str, inventory: str = "inventory/sandbox", timeout: float = 900
) -> PlaybookRun:
    """Run ansible-playbook in the workspace ``root``; never raises on a failed run."""
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    started = time.monotonic()
    done = subprocess.run(
        [ansible_bin("ansible-playbook"), "-i", inventory, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return PlaybookRun(done.returncode, done.stdout + done.stderr, time.monotonic() - started)


def prepare_controller(root: Path, host_names: list[str]) -> None:
    """Make the sandbox vault (and its password file) and the controller's SSH key (the
    sandbox inventory names it), and forget facts of earlier hosts."""
    from labhosts.layout import Layout
    from labhosts.machines import ensure_controller_key

    ensure_controller_key(Layout())
    subprocess.run([sys.executable, str(root / "scripts" / "sandbox-vault")], cwd=root, check=True)
    facts = root / ".cache" / "ansible" / "facts"
    for name in host_names:
        for cached in facts.glob(f"*{name}"):
            cached.unlink()


def vault_values(root: Path, inventory: str = "inventory/sandbox") -> dict[str, str]:
    """The decrypted vault of an inventory (the sandbox's holds throw-away random values)."""
    vault = root / inventory / "group_vars" / "all" / "vault.yml"
    done = subprocess.run(
        [ansible_bin("ansible-vault"), "view", str(vault)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    values = yaml.safe_load(done.stdout) or {}
    return {str(key): str(value) for key, value in values.items()}
