"""The shell that installs, upgrades and removes k3s on a node, rendered from typed settings.

POSIX sh, checked by shellcheck in the tests. The join token never appears in a script or
on a command line: it arrives on standard input and is written to a root-only file that
k3s reads with `token-file`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator

from labinfra.stackconfig import ConfigModel

CONFIG_DIR = "/etc/rancher/k3s"
TOKEN_FILE = f"{CONFIG_DIR}/token"
REGISTRIES_FILE = f"{CONFIG_DIR}/registries.yaml"
"""The private registry's mirrors, credentials and CA: written by Ansible's k3s_prereqs."""
API_PORT = 6443

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class K3sRelease(ConfigModel):
    version: str = Field(pattern=r"^v\d+\.\d+\.\d+\+k3s\d+$")
    sha256: dict[Literal["amd64", "arm64"], str]
    """sha256 of the `k3s` (amd64) and `k3s-arm64` binaries, from the release's sha256sum files."""
    install_script_sha256: str
    """sha256 of install.sh at the release's tag."""

    @field_validator("sha256")
    @classmethod
    def _binary_sums(cls, sums: dict[str, str]) -> dict[str, str]:
        for arch, value in sums.items():
            if not _SHA256.match(value):
                raise ValueError(f"sha256.{arch} is not 64 lowercase hex digits")
        return sums

    @field_validator("install_script_sha256")
    @classmethod
    def _script_sum(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError("not 64 lowercase hex digits")
        return value

    @property
    def url_version(self) -> str:
        return self.version.replace("+", "%2B")


Role = Literal["server-init", "server-join", "agent"]


@dataclass(frozen=True)
class NodePlan:
    """What one node runs: its role, the first server's address, its config.yaml."""

    hostname: str
    role: Role
    first_server: str
    config: dict[str, Any]


def node_config(
    *,
    role: Role,
    first_server: str,
    tls_sans: list[str],
    node_labels: list[str],
    secrets_encryption: bool,
) -> dict[str, Any]:
    """The node's /etc/rancher/k3s/config.yaml (no secrets: the token is a file)."""
    config: dict[str, Any] = {"token-file": TOKEN_FILE, "private-registry": REGISTRIES_FILE}
    if role == "server-init":
        config["cluster-init"] = True
    else:
        config["server"] = f"https://{first_server}:{API_PORT}"
    if role != "agent":
        config["tls-san"] = list(tls_sans)
        config["secrets-encryption"] = secrets_encryption
        config["write-kubeconfig-mode"] = "0600"
        # LoadBalancer Services are not allowed by the policy pack; Traefik stays.
        config["disable"] = ["servicelb"]
    if node_labels:
        config["node-label"] = list(node_labels)
    return config


def _heredoc(path: str, content: str, marker: str) -> str:
    if marker in content:
        raise ValueError(f"{path}: content contains the heredoc marker {marker}")
    return (
        f"cat > \"$work/{marker}\" <<'{marker}'\n{content}{marker}\n"
        f'sudo install -m 0600 -o root -g root "$work/{marker}" {shlex.quote(path)}\n'
    )


def install_script(plan: NodePlan, release: K3sRelease) -> str:
    """Install or upgrade k3s on one node; reads the join token from standard input."""
    service = "k3s-agent" if plan.role == "agent" else "k3s"
    exec_role = "agent" if plan.role == "agent" else "server"
    config_yaml = yaml.safe_dump(plan.config, sort_keys=True)
    files = _heredoc(f"{CONFIG_DIR}/config.yaml", config_yaml, "K3S_CONFIG")
    wait = (
        f"sudo k3s kubectl wait --for=condition=Ready node/{shlex.quote(plan.hostname)} "
        "--timeout=300s\n"
        if exec_role == "server"
        else f"sudo systemctl is-active --quiet {service}\n"
    )
    return f"""#!/bin/sh
# k3s {release.version} as {plan.role} on {plan.hostname}. Rendered by labinfra: do not edit.
set -eu
version={shlex.quote(release.version)}
case "$(uname -m)" in
  x86_64) binary=k3s; sum={shlex.quote(release.sha256.get("amd64", ""))} ;;
  aarch64) binary=k3s-arm64; sum={shlex.quote(release.sha256.get("arm64", ""))} ;;
  *) echo "k3s: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
if [ -z "$sum" ]; then
  echo "k3s: no checksum configured for $(uname -m)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

# The join token arrives on stdin: never in this script, the process list or the logs.
IFS= read -r token
sudo install -d -m 0700 -o root -g root {CONFIG_DIR}
printf '%s\\n' "$token" > "$work/token"
sudo install -m 0600 -o root -g root "$work/token" {TOKEN_FILE}

{files}
if [ "$(k3s --version 2>/dev/null | awk 'NR == 1 {{ print $3 }}')" != "$version" ]; then
  base="https://github.com/k3s-io/k3s/releases/download/{release.url_version}"
  curl -fsSL -o "$work/k3s" "$base/$binary"
  echo "$sum  $work/k3s" | sha256sum -c - >/dev/null
  curl -fsSL -o "$work/install.sh" \\
    "https://raw.githubusercontent.com/k3s-io/k3s/{release.url_version}/install.sh"
  echo {shlex.quote(release.install_script_sha256)}"  $work/install.sh" | sha256sum -c - >/dev/null
  sudo install -m 0755 -o root -g root "$work/k3s" /usr/local/bin/k3s
  sudo env INSTALL_K3S_SKIP_DOWNLOAD=true INSTALL_K3S_VERSION="$version" \\
    INSTALL_K3S_EXEC={exec_role} sh "$work/install.sh"
else
  # Same version: pick up a changed config.yaml.
  sudo systemctl restart {service}
fi
{wait}"""


def uninstall_script(role: Role) -> str:
    """Remove k3s from a node (runs on `pulumi destroy` only, never on upgrade)."""
    script = "k3s-agent-uninstall.sh" if role == "agent" else "k3s-uninstall.sh"
    return f"""#!/bin/sh
set -eu
if [ -x /usr/local/bin/{script} ]; then
  sudo /usr/local/bin/{script}
fi
sudo rm -f {TOKEN_FILE}
"""


KUBECONFIG_SCRIPT = f"#!/bin/sh\nset -eu\nsudo cat {CONFIG_DIR}/k3s.yaml\n"


def public_kubeconfig(kubeconfig: str, server_address: str) -> str:
    """k3s writes its kubeconfig for 127.0.0.1; point it at the first server instead."""
    return kubeconfig.replace("https://127.0.0.1:", f"https://{server_address}:")
