"""The raspberry_pi role's edits, as raspi-config makes them, on copies of a fresh Raspberry
Pi OS (bookworm) firmware partition.

The role runs for real (ansible-playbook, connection local) against files in a temporary
directory: its internal paths (firmware directory, /etc/modules, the module blacklist) are
pointed there, and `hardware: sim` keeps it from loading modules or rebooting. The
virtual hosts run the same role in site.yml; here the Pi 4 / Pi 5 and serial variants run
in seconds each. The expected files follow raspi-config (RPi-Distro/raspi-config, commit
9c55e7b): do_i2c, do_serial_cons, do_serial_hw, set_config_var.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from labhosts.image import CMDLINE_TXT, CONFIG_TXT
from labhosts.playbooks import PlaybookRun, ansible_bin, find_workspace

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = find_workspace(Path(__file__).parent)
PLAY = """\
- name: The raspberry_pi role on local copies of the firmware files
  hosts: all
  gather_facts: false
  roles:
    - role: raspberry_pi
"""


# One fake Pi per case, all converged by the same two runs (first, then idempotent).
CASES: dict[str, dict[str, Any]] = {
    "pi5-device": {"raspberry_pi_board": "pi5", "raspberry_pi_serial": "device"},
    "pi4-device": {"raspberry_pi_board": "pi4", "raspberry_pi_serial": "device"},
    "pi4-console": {"raspberry_pi_board": "pi4", "raspberry_pi_serial": "console"},
    "pi5-disabled": {"raspberry_pi_board": "pi5", "raspberry_pi_serial": "disabled"},
    "pi4-unmanaged": {"raspberry_pi_board": "pi4"},
    "pi4-old-image": {"raspberry_pi_board": "pi4"},
    "pi4-no-i2c": {
        "raspberry_pi_board": "pi4",
        "raspberry_pi_dtparams": {"spi": "on", "i2c_arm": "off"},
    },
    "auto-on-sim": {"raspberry_pi_board": "auto"},
}


class Pi:
    """A fake firmware partition and /etc files in a directory of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.boot = root / "boot" / "firmware"
        self.boot.mkdir(parents=True)
        (self.boot / "config.txt").write_text(CONFIG_TXT)
        (self.boot / "cmdline.txt").write_text(CMDLINE_TXT)
        self.modules = root / "etc" / "modules"
        self.modules.parent.mkdir(parents=True)
        self.modules.write_text("# /etc/modules: kernel modules to load at boot time.\n")
        self.blacklist = root / "etc" / "raspi-blacklist.conf"

    @property
    def config(self) -> list[str]:
        return (self.boot / "config.txt").read_text().splitlines()

    @property
    def cmdline(self) -> str:
        return (self.boot / "cmdline.txt").read_text()

    def variables(self) -> dict[str, Any]:
        return {"ansible_connection": "local", "test_pi_root": str(self.root)}


# The role's internal paths are role vars, above inventory variables: only extra vars
# override them, and these point each host at its own directory.
PATHS = {
    "_raspberry_pi_boot_dirs": ["{{ test_pi_root }}/boot/firmware"],
    "_raspberry_pi_modules_file": "{{ test_pi_root }}/etc/modules",
    "_raspberry_pi_blacklist_file": "{{ test_pi_root }}/etc/raspi-blacklist.conf",
}


@dataclass
class Converged:
    pis: dict[str, Pi]
    first: PlaybookRun
    second: PlaybookRun


def _run(root: Path) -> PlaybookRun:
    # The plain linear strategy and local connections: the reboot action refuses to run
    # over a local connection, a second guard besides hardware: sim.
    env = {**os.environ, "ANSIBLE_STRATEGY": "linear", "ANSIBLE_NOCOLOR": "1"}
    env["ANSIBLE_ROLES_PATH"] = str(ROOT / "roles")
    started = time.monotonic()
    done = subprocess.run(
        [
            ansible_bin("ansible-playbook"),
            "-i",
            str(root / "hosts.yml"),
            "-e",
            json.dumps(PATHS),
            str(root / "play.yml"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    return PlaybookRun(done.returncode, done.stdout + done.stderr, time.monotonic() - started)


@pytest.fixture(scope="module")
def converged(tmp_path_factory: pytest.TempPathFactory) -> Converged:
    root = tmp_path_factory.mktemp("pis")
    pis = {name: Pi(root / name) for name in CASES}
    old = pis["pi4-old-image"]
    old.modules.write_text("# modules\n#i2c-dev\nsnd-bcm2835\n")
    old.blacklist.write_text("blacklist spi-bcm2708\nblacklist i2c-bcm2708\nblacklist other\n")
    (old.boot / "config.txt").write_text(CONFIG_TXT.replace("[all]\n", "[all]\n#enable_uart=0\n"))
    (pis["pi4-console"].boot / "cmdline.txt").write_text(
        CMDLINE_TXT.replace("console=serial0,115200 ", "")
    )
    (pis["pi5-disabled"].boot / "config.txt").write_text(CONFIG_TXT + "dtparam=uart0=on\n")
    python = str(Path(ansible_bin("ansible-playbook")).parent / "python")
    inventory = {
        "all": {
            "vars": {
                "hardware": "sim",
                "ansible_python_interpreter": python,
                "ansible_become": False,
            },
            "hosts": {name: {**pi.variables(), **CASES[name]} for name, pi in pis.items()},
        }
    }
    (root / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (root / "play.yml").write_text(PLAY)
    first = _run(root)
    second = _run(root)
    return Converged(pis, first, second)


def test_every_case_converges_once_and_then_changes_nothing(converged: Converged) -> None:
    first, second = converged.first.recap(), converged.second.recap()
    good = [name for name in CASES if name != "auto-on-sim"]
    for name in good:
        assert first[name]["failed"] == 0, (name, converged.first.output[-3000:])
        assert first[name]["changed"] > 0, name
        assert second[name]["failed"] == 0, name
        assert second[name]["changed"] == 0, (name, converged.second.output[-3000:])


def test_board_auto_needs_real_hardware(converged: Converged) -> None:
    assert converged.first.recap()["auto-on-sim"]["failed"] == 1
    assert "auto only on real hardware" in converged.first.output


def test_pi5_serial_device(converged: Converged) -> None:
    pi = converged.pis["pi5-device"]
    config = pi.config
    for line in ("dtparam=spi=on", "dtparam=i2c_arm=on", "dtparam=uart0=on"):
        assert config.count(line) == 1, (line, config)
    # enable_uart is the Pi 4's switch; raspi-config leaves it alone on a Pi 5.
    assert not any(line.startswith("enable_uart") for line in config)
    words = pi.cmdline.split()
    assert len(pi.cmdline.strip().splitlines()) == 1
    assert not any(w.startswith("console=serial0") for w in words), words
    assert "console=tty1" in words
    assert words[-3:] == ["cgroup_memory=1", "cgroup_enable=memory", "cgroup_enable=cpuset"]
    assert pi.modules.read_text().splitlines().count("i2c-dev") == 1


def test_pi4_serial_device(converged: Converged) -> None:
    pi = converged.pis["pi4-device"]
    assert pi.config.count("enable_uart=1") == 1
    assert not any("uart0" in line for line in pi.config)
    assert "console=serial0" not in pi.cmdline


def test_a_commented_setting_is_replaced_not_duplicated(converged: Converged) -> None:
    config = converged.pis["pi4-old-image"].config
    # unmanaged serial: the commented line stays as it was
    assert config.count("#enable_uart=0") == 1
    assert config.count("dtparam=spi=on") == 1


def test_serial_console_is_added_once_before_root(converged: Converged) -> None:
    pi = converged.pis["pi4-console"]
    words = pi.cmdline.split()
    assert words.count("console=serial0,115200") == 1
    root = next(i for i, w in enumerate(words) if w.startswith("root="))
    assert words[root - 1] == "console=serial0,115200"
    assert "enable_uart=1" in pi.config


def test_disabling_the_pi5_uart_removes_its_lines(converged: Converged) -> None:
    pi = converged.pis["pi5-disabled"]
    assert not any("uart0" in line for line in pi.config)
    assert "console=serial0" not in pi.cmdline


def test_unmanaged_serial_leaves_uart_and_console_alone(converged: Converged) -> None:
    pi = converged.pis["pi4-unmanaged"]
    assert not any(line.startswith(("enable_uart", "dtparam=uart0")) for line in pi.config)
    assert pi.cmdline.startswith("console=serial0,115200 console=tty1 ")


def test_i2c_dev_is_loaded_at_boot_and_old_blacklists_are_lifted(converged: Converged) -> None:
    pi = converged.pis["pi4-old-image"]
    assert pi.modules.read_text().splitlines() == ["# modules", "i2c-dev", "snd-bcm2835"]
    assert pi.blacklist.read_text().splitlines() == [
        "#blacklist spi-bcm2708",
        "#blacklist i2c-bcm2708",
        "blacklist other",
    ]


def test_i2c_off_adds_no_module(converged: Converged) -> None:
    pi = converged.pis["pi4-no-i2c"]
    assert "i2c-dev" not in pi.modules.read_text()
    assert "dtparam=i2c_arm=off" in pi.config
