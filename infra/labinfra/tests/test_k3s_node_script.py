"""The node script run by a real POSIX shell against stand-ins of the node's commands.

No k3s, systemd or node exists where the tests run, so `sudo`, `k3s`, `systemctl`, `curl`,
`date` and `sleep` are stand-ins (this is a mock, used because nothing real can run here):
`sudo` runs the command with every path under /etc, /usr/local and /var/lib/rancher moved
into a scratch root; `k3s kubectl` answers from a scripted list of node states, as the API
server would over the node's lifetime; `curl` serves prepared downloads; `date +%s`
advances 30 s a call, so the script's time bound is reached without waiting. Everything
else (sh, install, cmp, sed, grep, sha256sum, awk, sort) is the real tool.
"""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from labinfra.k3s.scripts import (
    HOSTS_MARKER,
    REGISTRIES_FILE,
    REGISTRY_CA_FILE,
    K3sRelease,
    NodePlan,
    RegistryAccess,
    install_script,
    node_config,
)

VERSION = "v1.33.5+k3s1"
BINARY = f"stand-in k3s binary {VERSION}\n"
INSTALLER = textwrap.dedent(
    """\
    #!/bin/sh
    # Stand-in for k3s's install.sh: record what it was asked to do.
    env | grep '^INSTALL_K3S_' | sort > "$FAKEROOT/installer.env"
    """
)
CA = "-----BEGIN CERTIFICATE-----\nMIIBstandin\n-----END CERTIFICATE-----\n"
NOW = "2026-11-26T12:00:00Z"

SUDO = r'''#!PYTHON
"""sudo stand-in: run the command with node paths moved under $FAKEROOT."""
import os, subprocess, sys
root = os.environ["FAKEROOT"]
prefixes = ("/etc/", "/usr/local/", "/var/lib/rancher/")
args = [root + a if a.startswith(prefixes) else a for a in sys.argv[1:]]
with open(os.path.join(root, "sudo.log"), "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\n")
sys.exit(subprocess.call(args))
'''

K3S = r'''#!PYTHON
"""k3s stand-in: --version from the installed binary, kubectl from scripted node states."""
import json, os, sys
root = os.environ["FAKEROOT"]
args = sys.argv[1:]
if args[:1] == ["--version"]:
    path = os.path.join(root, "usr/local/bin/k3s")
    if not os.path.exists(path):
        sys.exit(127)
    version = open(path).read().split()[-1]
    print(f"k3s version {version} (0123abcd)")
    print("go version go1.24")
    sys.exit(0)
if args[:1] == ["kubectl"]:
    with open(os.path.join(root, "kubectl.log"), "a") as log:
        log.write(" ".join(args) + "\n")
    states_path = os.path.join(root, "states.json")
    states = json.load(open(states_path))
    state = states.pop(0) if len(states) > 1 else states[0]
    json.dump(states, open(states_path, "w"))
    if state is None:
        print('Error from server (NotFound): nodes "x" not found', file=sys.stderr)
        sys.exit(1)
    print(state, end="")
    sys.exit(0)
sys.exit(2)
'''

SYSTEMCTL = """#!/bin/sh
echo "$*" >> "$FAKEROOT/systemctl.log"
case "$1" in
  is-active) [ -e "$FAKEROOT/active" ] ;;
  restart) touch "$FAKEROOT/active" ;;
esac
"""

CURL = """#!/bin/sh
# curl -fsSL -o DEST URL
echo "$4" >> "$FAKEROOT/curl.log"
cp "$FAKEROOT/downloads/$(basename "$4")" "$3"
"""

DATE = f"""#!/bin/sh
case "$*" in
  +%s) n=$(cat "$FAKEROOT/clock"); echo $((n + 30)) > "$FAKEROOT/clock"; echo "$n" ;;
  *) echo {NOW} ;;
esac
"""


@dataclass
class Node:
    root: Path
    bin: Path

    def run(self, script: str, states: list[str | None]) -> subprocess.CompletedProcess[str]:
        (self.root / "states.json").write_text(json.dumps(states))
        path = self.root / "script.sh"
        path.write_text(script)
        env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "FAKEROOT": str(self.root),
            "HOME": str(self.root),
        }
        return subprocess.run(
            ["sh", str(path)],
            input="join-token-abc\nRegistryPassw0rd\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    def file(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def log(self, name: str) -> str:
        path = self.root / name
        return path.read_text() if path.exists() else ""

    def install(self, version: str) -> None:
        """k3s `version` is installed and running on this node."""
        binary = self.file("/usr/local/bin/k3s")
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text(f"stand-in k3s binary {version}\n")
        (self.root / "active").touch()


@pytest.fixture
def node(tmp_path: Path) -> Node:
    root = tmp_path / "root"
    bindir = tmp_path / "bin"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hosts").write_text("127.0.0.1\tlocalhost\n")
    (root / "usr" / "local" / "bin").mkdir(parents=True)
    (root / "downloads").mkdir()
    (root / "downloads" / "k3s").write_text(BINARY)
    (root / "downloads" / "install.sh").write_text(INSTALLER)
    (root / "clock").write_text("1000000\n")
    bindir.mkdir()
    stubs = {"sudo": SUDO, "k3s": K3S, "systemctl": SYSTEMCTL, "curl": CURL, "date": DATE}
    stubs["sleep"] = "#!/bin/sh\nexit 0\n"
    for name, text in stubs.items():
        path = bindir / name
        path.write_text(text.replace("#!PYTHON", f"#!{sys.executable}"))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return Node(root, bindir)


def _release(binary: str = BINARY, installer: str = INSTALLER) -> K3sRelease:
    return K3sRelease.model_validate(
        {
            "version": VERSION,
            "sha256": {
                "amd64": hashlib.sha256(binary.encode()).hexdigest(),
                "arm64": hashlib.sha256(binary.encode()).hexdigest(),
            },
            "installScriptSha256": hashlib.sha256(installer.encode()).hexdigest(),
        }
    )


def _script(release: K3sRelease | None = None, *, host: str = "registry.lab.internal") -> str:
    plan = NodePlan(
        hostname="node1",
        role="server-init",
        first_server="192.168.50.11",
        address="192.168.50.11",
        config=node_config(
            role="server-init",
            first_server="192.168.50.11",
            tls_sans=["192.168.50.11"],
            node_labels=[],
            secrets_encryption=True,
            node_name="node1",
        ),
    )
    return install_script(plan, release or _release(), RegistryAccess(host, "lab", CA))


READY = f"{VERSION} True 2026-11-26T12:00:05Z"


def test_first_install_waits_for_the_node_to_register(node: Node) -> None:
    """Defect 6: right after k3s starts the Node does not exist yet; the script keeps asking
    (the old `kubectl wait node/x` failed at once with NotFound)."""
    result = node.run(_script(), [None, None, None, READY])
    assert result.returncode == 0, result.stderr
    assert node.log("kubectl.log").count("get node node1") == 4
    assert "INSTALL_K3S_EXEC=server" in node.log("installer.env")


def test_an_upgrade_forces_the_restart_and_waits_for_the_new_version(node: Node) -> None:
    """Defect 5: install.sh skips the restart when the installed files' hashes did not
    change while it ran, and the binary is already in place by then."""
    node.install("v1.33.4+k3s1")
    old = "v1.33.4+k3s1 True 2026-11-26T11:00:00Z"
    result = node.run(_script(), [old, old, READY])
    assert result.returncode == 0, result.stderr
    assert "INSTALL_K3S_FORCE_RESTART=true" in node.log("installer.env").splitlines()
    assert node.log("kubectl.log").count("get node node1") == 3
    assert node.file("/usr/local/bin/k3s").read_text() == BINARY


def test_an_upgrade_that_does_not_take_fails_with_the_version_it_saw(node: Node) -> None:
    """Defect 5: `kubectl wait` passed on the old version; now the script fails, bounded."""
    node.install("v1.33.4+k3s1")
    result = node.run(_script(), ["v1.33.4+k3s1 True 2026-11-26T12:00:05Z"])
    assert result.returncode == 1
    assert "node node1 is not Ready on v1.33.5+k3s1" in result.stderr
    assert "last seen: v1.33.4+k3s1 True" in result.stderr


def test_a_bad_checksum_stops_before_the_node_changes(node: Node) -> None:
    """Defect 7: the old script wrote the token and config, then failed the check."""
    result = node.run(_script(_release(binary="another binary\n")), [READY])
    assert result.returncode != 0
    assert not node.file("/etc/rancher/k3s").exists()
    assert node.log("installer.env") == ""
    assert node.file("/etc/hosts").read_text() == "127.0.0.1\tlocalhost\n"


def test_the_registry_config_is_written_and_restarts_k3s(node: Node) -> None:
    """Defect 2: k3s reads its registry configuration only at start. A changed file
    restarts k3s and the script waits for a heartbeat newer than the restart."""
    node.install(VERSION)
    stale = f"{VERSION} True 2026-11-26T11:59:00Z"
    result = node.run(_script(), [stale, stale, READY])
    assert result.returncode == 0, result.stderr
    assert "restart k3s" in node.log("systemctl.log")
    assert node.log("installer.env") == ""
    assert node.log("kubectl.log").count("get node") == 3

    registries = yaml.safe_load(node.file(REGISTRIES_FILE).read_text())
    assert registries == {
        "configs": {
            "registry.lab.internal": {
                "auth": {"username": "lab", "password": "RegistryPassw0rd"},
                "tls": {"ca_file": REGISTRY_CA_FILE},
            }
        }
    }
    assert oct(node.file(REGISTRIES_FILE).stat().st_mode & 0o777) == "0o600"
    assert node.file(REGISTRY_CA_FILE).read_text() == CA
    hosts = node.file("/etc/hosts").read_text().splitlines()
    assert hosts == [
        "127.0.0.1\tlocalhost",
        f"192.168.50.11 registry.lab.internal {HOSTS_MARKER}",
    ]

    # A second run with nothing changed neither restarts nor waits for a new heartbeat.
    (node.root / "systemctl.log").unlink()
    result = node.run(_script(), [stale])
    assert result.returncode == 0, result.stderr
    assert "restart" not in node.log("systemctl.log")

    # A new registry name replaces the hosts line and restarts k3s again.
    result = node.run(_script(host="registry2.lab.internal"), [stale, READY])
    assert result.returncode == 0, result.stderr
    assert "restart k3s" in node.log("systemctl.log")
    assert node.file("/etc/hosts").read_text().count(HOSTS_MARKER) == 1
    assert "registry2.lab.internal" in node.file("/etc/hosts").read_text()


def test_a_password_with_other_characters_is_refused(node: Node) -> None:
    path = node.root / "script.sh"
    path.write_text(_script())
    result = subprocess.run(
        ["sh", str(path)],
        input="join-token\nbad/password\n",
        capture_output=True,
        text=True,
        env={"PATH": f"{node.bin}:/usr/bin:/bin", "FAKEROOT": str(node.root)},
        check=False,
    )
    assert result.returncode == 1
    assert "letters and digits" in result.stderr
    assert not node.file("/etc/rancher/k3s").exists()
