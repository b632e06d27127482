"""The shell that installs, upgrades and removes k3s on a node, rendered from typed settings.

POSIX sh, checked by shellcheck in the tests. Secrets never appear in a script or on a
command line: the join token and the registry password arrive on standard input and are
written to root-only files.

Upstream facts these scripts depend on (read at the source; see infra/README.md,
"Pins verified"):

- k3s-io/k3s `install.sh` (read at commit 0136cf2 of the stored copy; the hash logic has
  been stable since INSTALL_K3S_FORCE_RESTART was added): `setup_env` records the sha256 of
  the k3s binary, the unit and its env file *before* installing (PRE_INSTALL_HASHES), and
  `service_enable_and_start` skips the restart when they are unchanged afterwards unless
  INSTALL_K3S_FORCE_RESTART=true. This script installs the verified binary itself before
  running the installer, so an upgrade would otherwise never restart k3s.
- docs.k3s.io, "Private Registry Configuration": k3s reads `registries.yaml` (the file
  `private-registry` names) only at startup; `configs` are keyed by the registry host as it
  appears in image names (with its port, if any); `tls.ca_file` is the CA that signed the
  registry's certificate.
- docs.k3s.io, "Networking Services": ServiceLB hosts the Traefik LoadBalancer Service on
  every node (k3s-io/klipper-lb README: a host port per service, forwarded to the cluster
  IP), so every node answers for the registry's Ingress on 443 and the registry's name can
  resolve to the node's own address.
- The k3s CIS self-assessment guide: the kubelet of every k3s node uses
  `/var/lib/rancher/k3s/agent/kubelet.kubeconfig`; it may read its own Node object.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationInfo, field_validator

from labinfra.stackconfig import ConfigModel

CONFIG_DIR = "/etc/rancher/k3s"
TOKEN_FILE = f"{CONFIG_DIR}/token"
REGISTRIES_FILE = f"{CONFIG_DIR}/lab-registries.yaml"
"""The private registry's credentials and CA, written here and named by `private-registry`.

Not `registries.yaml`: Ansible's k3s_prereqs role once wrote that file (it now removes the
copy it wrote), and an operator may keep one of their own; k3s reads only the file
`private-registry` names, so this stack owns the registry configuration alone."""
REGISTRY_CA_FILE = f"{CONFIG_DIR}/lab-ca.crt"
KUBELET_KUBECONFIG = "/var/lib/rancher/k3s/agent/kubelet.kubeconfig"
_NODE_STATE = (
    "{.status.nodeInfo.kubeletVersion}"
    ' {.status.conditions[?(@.type=="Ready")].status}'
    ' {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}'
)
"""kubectl jsonpath: kubelet version, Ready status, Ready heartbeat."""
HOSTS_MARKER = "# labinfra: lab registry"
API_PORT = 6443
READY_TIMEOUT_S = 600

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PASSWORD = re.compile(r"^[A-Za-z0-9]+$")


def _placeholder(value: str) -> bool:
    """A value no real digest has: one hex digit repeated (the example's zeros)."""
    return len(set(value)) == 1


def _release_url(version: str | None) -> str:
    tag = (version or "<version>").replace("+", "%2B")
    return f"https://github.com/k3s-io/k3s/releases/download/{tag}"


def _install_script_url(version: str | None) -> str:
    tag = (version or "<version>").replace("+", "%2B")
    return f"https://raw.githubusercontent.com/k3s-io/k3s/{tag}/install.sh"


class K3sRelease(ConfigModel):
    version: str = Field(pattern=r"^v\d+\.\d+\.\d+\+k3s\d+$")
    sha256: dict[Literal["amd64", "arm64"], str]
    """sha256 of the `k3s` (amd64) and `k3s-arm64` binaries, from the release's sha256sum files."""
    install_script_sha256: str
    """sha256 of install.sh at the release's tag."""

    @property
    def url_version(self) -> str:
        return self.version.replace("+", "%2B")

    @property
    def install_script_url(self) -> str:
        return _install_script_url(self.version)

    @field_validator("sha256")
    @classmethod
    def _binary_sums(cls, sums: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        """Real sums of both binaries; zeros (the example's placeholder) are refused here,
        before any node is touched, with where to copy the real ones from."""
        version = info.data.get("version")
        problems = [f"missing sha256.{a}" for a in ("amd64", "arm64") if a not in sums]
        for arch, value in sorted(sums.items()):
            binary = "k3s" if arch == "amd64" else "k3s-arm64"
            if not _SHA256.match(value) or _placeholder(value):
                problems.append(
                    f"sha256.{arch} {value[:12]!r}... is not the binary's sha256: copy the "
                    f"`{binary}` line of {_release_url(version)}/sha256sum-{arch}.txt"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return sums

    @field_validator("install_script_sha256")
    @classmethod
    def _script_sum(cls, value: str, info: ValidationInfo) -> str:
        if not _SHA256.match(value) or _placeholder(value):
            raise ValueError(
                f"{value[:12]!r}... is not install.sh's sha256: run `curl -fsSL "
                f"{_install_script_url(info.data.get('version'))} | sha256sum`"
            )
        return value


Role = Literal["server-init", "server-join", "agent"]


@dataclass(frozen=True)
class NodePlan:
    """What one node runs: its role, the first server's address, its config.yaml."""

    hostname: str
    role: Role
    first_server: str
    config: dict[str, Any]
    address: str = ""
    """The node's own address (where its ServiceLB answers for the registry's Ingress)."""


@dataclass(frozen=True)
class RegistryAccess:
    """How a node pulls from the lab's registry; the password arrives on standard input."""

    host: str
    """The registry's host exactly as image names start (`registry.lab.internal`)."""
    username: str
    ca_pem: str


def node_config(
    *,
    role: Role,
    first_server: str,
    tls_sans: list[str],
    node_labels: list[str],
    secrets_encryption: bool,
    node_name: str = "",
    server_extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The node's /etc/rancher/k3s/config.yaml (no secrets: the token is a file).

    ServiceLB stays on: it gives Traefik's LoadBalancer Service the nodes' addresses, and
    nothing else in the lab would (no MetalLB or kube-vip).
    """
    config: dict[str, Any] = {"token-file": TOKEN_FILE, "private-registry": REGISTRIES_FILE}
    if node_name:
        # The name the readiness check waits for, whatever the host's hostname says.
        config["node-name"] = node_name
    if role == "server-init":
        config["cluster-init"] = True
    else:
        config["server"] = f"https://{first_server}:{API_PORT}"
    if role != "agent":
        config["tls-san"] = list(tls_sans)
        config["secrets-encryption"] = secrets_encryption
        config["write-kubeconfig-mode"] = "0600"
        # Servers only (etcd runs there): e.g. the etcd snapshot flags, labinfra.backups.
        config.update(server_extra or {})
    if node_labels:
        config["node-label"] = list(node_labels)
    return config


def registries_yaml(registry: RegistryAccess, password: str) -> str:
    """k3s's registry configuration for the lab registry alone.

    No `mirrors:` entry: the lab registry is not a pull-through cache of any other
    registry, and an image named `registry.lab.internal/...` is pulled from its default
    endpoint `https://registry.lab.internal/v2`, which `configs` (keyed by that same host)
    authenticates and verifies with the lab CA.
    """
    return yaml.safe_dump(
        {
            "configs": {
                registry.host: {
                    "auth": {"username": registry.username, "password": password},
                    "tls": {"ca_file": REGISTRY_CA_FILE},
                }
            }
        },
        sort_keys=True,
    )


_READ_REGISTRY_PASSWORD = """IFS= read -r registry_password
case "$registry_password" in
  "" | *[!A-Za-z0-9]*) echo "k3s: the registry password on stdin must be letters and digits" >&2; exit 1 ;;
esac
"""  # noqa: E501, S105 (shell that reads the password from stdin)
PASSWORD_SLOT = "REGISTRY-PASSWORD-FROM-STDIN"  # noqa: S105 (a placeholder, replaced on the node)


def _heredoc(content: str, marker: str) -> str:
    if marker in content:
        raise ValueError(f"content contains the heredoc marker {marker}")
    return f"cat > \"$work/{marker}\" <<'{marker}'\n{content}{marker}\n"


def install_script(
    plan: NodePlan, release: K3sRelease, registry: RegistryAccess | None = None
) -> str:
    """Install, upgrade or reconfigure k3s on one node, then wait until it is Ready.

    Standard input: the join token, then (with a registry) its password, one per line.
    Everything is downloaded and verified before anything on the node changes; k3s
    restarts only when its binary or a file it reads changed, and the script returns only
    once the node reports the wanted kubelet version, Ready, with a heartbeat after the
    restart.
    """
    service = "k3s-agent" if plan.role == "agent" else "k3s"
    exec_role = "agent" if plan.role == "agent" else "server"
    node = shlex.quote(plan.hostname)
    files = _heredoc(yaml.safe_dump(plan.config, sort_keys=True), "K3S_CONFIG")
    install_files = f'install_file "$work/K3S_CONFIG" {CONFIG_DIR}/config.yaml 0600\n'
    read_secret = ""
    hosts = ""
    if registry is not None:
        if not plan.address:
            raise ValueError(f"{plan.hostname}: a node with a registry needs its address")
        read_secret = _READ_REGISTRY_PASSWORD
        files += _heredoc(registries_yaml(registry, PASSWORD_SLOT), "K3S_REGISTRIES")
        files += (
            f'sed "s/{PASSWORD_SLOT}/$registry_password/" "$work/K3S_REGISTRIES"'
            ' > "$work/registries.yaml"\n'
        )
        files += _heredoc(registry.ca_pem.strip() + "\n", "LAB_CA")
        install_files += (
            f'install_file "$work/registries.yaml" {REGISTRIES_FILE} 0600\n'
            f'install_file "$work/LAB_CA" {REGISTRY_CA_FILE} 0644\n'
        )
        line = f"{plan.address} {registry.host} {HOSTS_MARKER}"
        hosts = f"""
# The registry's name resolves to this node: ServiceLB answers for Traefik on every node.
hosts_line={shlex.quote(line)}
if ! sudo grep -qxF "$hosts_line" /etc/hosts; then
  sudo sed -i '/{HOSTS_MARKER}$/d' /etc/hosts
  printf '%s\\n' "$hosts_line" | sudo tee -a /etc/hosts >/dev/null
fi
"""
    return f"""#!/bin/sh
# k3s {release.version} as {plan.role} on {plan.hostname}. Rendered by labinfra: do not edit.
set -eu
version={shlex.quote(release.version)}
node={node}
case "$(uname -m)" in
  x86_64) binary=k3s; sum={shlex.quote(release.sha256["amd64"])} ;;
  aarch64) binary=k3s-arm64; sum={shlex.quote(release.sha256["arm64"])} ;;
  *) echo "k3s: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

# Secrets arrive on stdin: never in this script, the process list or the logs.
IFS= read -r token
{read_secret}
# 1. Download and verify first: a bad checksum stops here, before the node changes.
upgrade=0
if [ "$(k3s --version 2>/dev/null | awk 'NR == 1 {{ print $3 }}')" != "$version" ]; then
  upgrade=1
  base="https://github.com/k3s-io/k3s/releases/download/{release.url_version}"
  curl -fsSL -o "$work/k3s" "$base/$binary"
  echo "$sum  $work/k3s" | sha256sum -c - >/dev/null
  curl -fsSL -o "$work/install.sh" {shlex.quote(release.install_script_url)}
  echo {shlex.quote(release.install_script_sha256)}"  $work/install.sh" | sha256sum -c - >/dev/null
fi

# 2. The files k3s reads at start; note whether any changed.
changed=0
install_file() {{
  if ! sudo cmp -s "$1" "$2"; then
    sudo install -m "$3" -o root -g root "$1" "$2"
    changed=1
  fi
}}
sudo install -d -m 0700 -o root -g root {CONFIG_DIR}
printf '%s\\n' "$token" > "$work/token"
{files}install_file "$work/token" {TOKEN_FILE} 0600
{install_files}{hosts}
# 3. Install or restart. install.sh compares the installed files' hashes from before and
# after it runs and skips the restart when they match; the binary is already in place by
# then, so an upgrade must force the restart.
since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
restarted=1
if [ "$upgrade" = 1 ]; then
  sudo install -m 0755 -o root -g root "$work/k3s" /usr/local/bin/k3s
  sudo env INSTALL_K3S_SKIP_DOWNLOAD=true INSTALL_K3S_FORCE_RESTART=true \\
    INSTALL_K3S_VERSION="$version" INSTALL_K3S_EXEC={exec_role} sh "$work/install.sh"
elif [ "$changed" = 1 ] || ! sudo systemctl is-active --quiet {service}; then
  sudo systemctl restart {service}
else
  restarted=0
fi

# 4. Wait until this node is registered, runs $version and is Ready (after the restart).
# Right after a first start the Node object does not exist yet: keep asking, with a bound.
deadline=$(( $(date +%s) + {READY_TIMEOUT_S} ))
state=""
while :; do
  state=$(sudo k3s kubectl --kubeconfig {KUBELET_KUBECONFIG} get node "$node" \\
    -o jsonpath={shlex.quote(_NODE_STATE)} 2>/dev/null) || state=""
  # shellcheck disable=SC2086 # split the three fields on purpose
  set -- $state
  if [ "${{1:-}}" = "$version" ] && [ "${{2:-}}" = True ] && {{
    [ "$restarted" = 0 ] ||
      [ "$(printf '%s\\n%s\\n' "$since" "${{3:-}}" | sort | head -n 1)" = "$since" ]
  }}; then
    break
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "k3s: node $node is not Ready on $version after {READY_TIMEOUT_S}s" \\
      "(last seen: ${{state:-not registered}})" >&2
    exit 1
  fi
  sleep 5
done
"""


def uninstall_script(role: Role) -> str:
    """Remove k3s from a node (runs on `pulumi destroy` only, never on upgrade)."""
    script = "k3s-agent-uninstall.sh" if role == "agent" else "k3s-uninstall.sh"
    return f"""#!/bin/sh
set -eu
if [ -x /usr/local/bin/{script} ]; then
  sudo /usr/local/bin/{script}
fi
sudo rm -f {TOKEN_FILE} {REGISTRIES_FILE} {REGISTRY_CA_FILE}
sudo sed -i '/{HOSTS_MARKER}$/d' /etc/hosts
"""


KUBECONFIG_SCRIPT = f"#!/bin/sh\nset -eu\nsudo cat {CONFIG_DIR}/k3s.yaml\n"


class KubeconfigError(ValueError):
    """What the first server returned is not the kubeconfig k3s writes."""


def public_kubeconfig(kubeconfig: str, server_address: str) -> str:
    """k3s's /etc/rancher/k3s/k3s.yaml, pointed at the first server instead of 127.0.0.1.

    k3s writes one cluster, user and context, all named `default`, with the server at
    `https://127.0.0.1:6443` and the CA and client certificate inline (docs.k3s.io,
    "Cluster Access"). The document is parsed, not edited as text, and anything that is not
    that shape is refused.
    """
    try:
        data = yaml.safe_load(kubeconfig)
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"k3s.yaml is not YAML: {exc}") from exc
    if not isinstance(data, dict) or data.get("kind") != "Config":
        raise KubeconfigError("k3s.yaml is not a kubeconfig (kind: Config)")
    clusters = data.get("clusters") or []
    users = data.get("users") or []
    if len(clusters) != 1 or len(users) != 1:
        raise KubeconfigError("k3s.yaml should hold exactly one cluster and one user")
    cluster = clusters[0].get("cluster") or {}
    user = users[0].get("user") or {}
    missing = [k for k in ("certificate-authority-data", "server") if not cluster.get(k)]
    missing += [k for k in ("client-certificate-data", "client-key-data") if not user.get(k)]
    if missing:
        raise KubeconfigError(f"k3s.yaml lacks {', '.join(missing)}")
    cluster["server"] = f"https://{server_address}:{API_PORT}"
    return yaml.safe_dump(data, sort_keys=False)


def cluster_identity(kubeconfig: str) -> str:
    """What identifies the cluster a kubeconfig reaches: its CA (it changes only when the
    cluster is rebuilt; client certificates rotate yearly and must not look like a new
    cluster). Text that is not a kubeconfig identifies itself."""
    import hashlib

    try:
        data = yaml.safe_load(kubeconfig)
        ca = data["clusters"][0]["cluster"]["certificate-authority-data"]
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        ca = kubeconfig
    return "sha256:" + hashlib.sha256(str(ca).encode()).hexdigest()
