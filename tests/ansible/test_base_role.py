"""base must not lock the operator out: its preflight refuses admin keys that are not keys
(the production example's placeholder, a truncated paste) before sshd stops taking
passwords. Runs the role's preflight for real on local connections (no change is made:
only the preflight tag runs); site.yml runs the whole role on the virtual hosts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from labhosts.playbooks import PlaybookRun, ansible_bin, find_workspace

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = find_workspace(Path(__file__).parent)
GOOD_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID1+zppO6VJmJeNpNfzZ7q4m2pI4eJ1oBxWAdIERz92W "
    "preflight-fixture"
)
PLACEHOLDER = yaml.safe_load((ROOT / "inventory/production/group_vars/all/main.yml").read_text())[
    "base_admin_authorized_keys"
][0]


def test_preflight_refuses_the_placeholder_and_passes_a_real_key(tmp_path: Path) -> None:
    python = str(Path(ansible_bin("ansible-playbook")).parent / "python")
    hosts = {
        "placeholder": [PLACEHOLDER],
        "truncated": [GOOD_KEY[:60]],
        "good": [GOOD_KEY],
    }
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": python},
            "hosts": {name: {"base_admin_authorized_keys": keys} for name, keys in hosts.items()},
        }
    }
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(
        "- name: base preflight\n  hosts: all\n  gather_facts: false\n  roles: [base]\n"
    )
    env = {**os.environ, "ANSIBLE_STRATEGY": "linear", "ANSIBLE_NOCOLOR": "1"}
    env["ANSIBLE_ROLES_PATH"] = str(ROOT / "roles")
    done = subprocess.run(
        [
            ansible_bin("ansible-playbook"),
            "-i",
            str(tmp_path / "hosts.yml"),
            "--tags",
            "base_preflight",
            str(tmp_path / "play.yml"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    run = PlaybookRun(done.returncode, done.stdout + done.stderr, 0)
    recap = run.recap()
    assert recap["placeholder"]["failed"] == 1, run.output[-3000:]
    assert recap["truncated"]["failed"] == 1, run.output[-3000:]
    assert recap["good"]["failed"] == 0, run.output[-3000:]
    assert "base: base_admin_authorized_keys has entries that are not public keys" in run.output
    assert "ExampleKeyReplace" in run.output
