"""scripts/apt-install keeps packaged services from starting without stopping anything.

apt-get, dpkg-query, systemctl, pkill and killall are stand-ins here (installing packages
for real would change this machine): the stand-in apt-get does what a package's
maintainer script does when it starts its service, asking policy-rc.d first. A real
process named `prometheus`, which the project did not start, must survive.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "apt-install"

APT_GET = """#!/bin/sh
echo "apt-get $*" >> "$LOG"
case "$*" in
  *install*)
    # What invoke-rc.d does for a package's postinst: ask policy-rc.d, start if allowed.
    if [ -x "$POLICY_RC_D" ]; then
      "$POLICY_RC_D" prometheus start
      echo "policy-rc.d answered $?" >> "$LOG"
    else
      echo "no policy-rc.d: service started" >> "$LOG"
    fi ;;
esac
"""


def _stub(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def someone_elses_prometheus(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process named prometheus that this project did not start."""
    binary = tmp_path / "prometheus"
    shutil.copy("/bin/sleep", binary)
    process = subprocess.Popen([str(binary), "300"])
    yield process
    process.kill()
    process.wait()


def _run(tmp_path: Path, policy: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    deps = tmp_path / "deps"
    deps.mkdir(exist_ok=True)
    (deps / "test.txt").write_text("# a package with a service\nprometheus\n")
    log = tmp_path / "log"
    _stub(bindir, "apt-get", APT_GET)
    _stub(bindir, "dpkg-query", "#!/bin/sh\necho 'deinstall ok config-files'\n")
    _stub(bindir, "systemctl", '#!/bin/sh\necho "systemctl $*" >> "$LOG"\n')
    for killer in ("pkill", "killall", "kill"):
        _stub(bindir, killer, f'#!/bin/sh\necho "{killer} $*" >> "$LOG"\n')
    env = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "LOG": str(log),
        "POLICY_RC_D": str(policy),
        "DEPS_DIR": str(deps),
    }
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=False
    )
    return result, log.read_text() if log.exists() else ""


def test_services_are_refused_at_install_and_nothing_is_killed(
    tmp_path: Path, someone_elses_prometheus: subprocess.Popen[bytes]
) -> None:
    policy = tmp_path / "policy-rc.d"
    result, log = _run(tmp_path, policy)
    assert result.returncode == 0, result.stderr
    assert "apt-get update -qq" in log
    assert "policy-rc.d answered 101" in log
    assert "service started" not in log
    assert not any(line.startswith(("pkill", "killall", "kill")) for line in log.splitlines())
    assert not policy.exists()  # removed again after the install
    time.sleep(0.1)
    assert someone_elses_prometheus.poll() is None


def test_an_existing_policy_rc_d_is_restored(tmp_path: Path) -> None:
    policy = tmp_path / "policy-rc.d"
    policy.write_text("#!/bin/sh\n# the machine's own\nexit 0\n")
    policy.chmod(0o755)
    result, log = _run(tmp_path, policy)
    assert result.returncode == 0, result.stderr
    assert "policy-rc.d answered 101" in log
    assert policy.read_text() == "#!/bin/sh\n# the machine's own\nexit 0\n"


def test_bootstrap_names_no_process_to_kill() -> None:
    """The old bootstrap ran `pkill -x prometheus` (and alertmanager, node_exporter)."""
    for script in (REPO / "scripts" / "bootstrap", SCRIPT):
        text = script.read_text()
        assert "pkill" not in text
        assert "killall" not in text
