"""Backup coordination: the k3s etcd snapshot flags the cluster stack renders, the S3 Secret
the platform stack makes, and the restore runbook (docs/runbooks/backups.md) that uses them.

The restore itself cannot run here (no k3s, no S3, no Proxmox): the rehearsal is the
documented procedure, and these tests hold its commands to what the stacks render, the
flags to k3s's documented ones, and its shell to shellcheck.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from labinfra.backups import ETCD_S3_SECRET, EtcdS3Target, EtcdSnapshots, etcd_s3_secret_data
from labinfra.offline.harness import StackRun
from labinfra.offline.lab import PROJECTS_DIR

REPO = Path(__file__).resolve().parents[3]
RUNBOOK = REPO / "docs" / "runbooks" / "backups.md"

K3S_SERVER_FLAGS = {
    # docs.k3s.io/cli/etcd-snapshot and /cli/server (etcd, S3 and cluster-reset options);
    # k3s-io/k3s pkg/cli/cmds/server.go for --etcd-s3-config-secret.
    "--cluster-reset",
    "--cluster-reset-restore-path",
    "--etcd-disable-snapshots",
    "--etcd-snapshot-name",
    "--etcd-snapshot-schedule-cron",
    "--etcd-snapshot-retention",
    "--etcd-snapshot-dir",
    "--etcd-snapshot-compress",
    "--etcd-s3",
    "--etcd-s3-endpoint",
    "--etcd-s3-endpoint-ca",
    "--etcd-s3-skip-ssl-verify",
    "--etcd-s3-access-key",
    "--etcd-s3-secret-key",
    "--etcd-s3-bucket",
    "--etcd-s3-region",
    "--etcd-s3-folder",
    "--etcd-s3-insecure",
    "--etcd-s3-timeout",
    "--etcd-s3-config-secret",
}
CONFIG_SECRET_KEYS = {
    # k3s-io/k3s pkg/etcd/s3/config_secret.go (getConfigFromSecret)
    "etcd-s3-access-key",
    "etcd-s3-bucket",
    "etcd-s3-bucket-lookup-type",
    "etcd-s3-endpoint",
    "etcd-s3-endpoint-ca",
    "etcd-s3-endpoint-ca-name",
    "etcd-s3-folder",
    "etcd-s3-proxy",
    "etcd-s3-region",
    "etcd-s3-secret-key",
    "etcd-s3-session-token",
    "etcd-s3-timeout",
    "etcd-s3-skip-ssl-verify",
    "etcd-s3-insecure",
}
DATA_DIR = "/var/lib/rancher/k3s"  # k3s's default --data-dir


def _stack(project: str) -> dict[str, Any]:
    data = yaml.safe_load((PROJECTS_DIR / project / "Pulumi.lab.yaml").read_text())
    return {k.split(":", 1)[1]: v for k, v in data["config"].items() if ":" in k}


def _node_config(script: str) -> dict[str, Any]:
    body = script.split("<<'K3S_CONFIG'\n", 1)[1].split("\nK3S_CONFIG\n", 1)[0]
    config: dict[str, Any] = yaml.safe_load(body)
    return config


def _runbook_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", RUNBOOK.read_text(), flags=re.S)


def test_servers_snapshot_etcd_on_the_schedule_and_upload_to_s3(
    lab_runs: dict[str, StackRun],
) -> None:
    expected = EtcdSnapshots.model_validate(_stack("cluster")["etcdSnapshots"]).k3s_config()
    assert expected == {
        "etcd-snapshot-schedule-cron": "0 */6 * * *",
        "etcd-snapshot-retention": 28,
        "etcd-snapshot-compress": True,
        "etcd-s3": True,
        "etcd-s3-config-secret": ETCD_S3_SECRET,
    }
    installs = [
        r for r in lab_runs["cluster"].of_type("command:remote:Command") if r.name.endswith("-k3s")
    ]
    servers = [r for r in installs if "INSTALL_K3S_EXEC=server" in r.inputs["create"]]
    agents = [r for r in installs if "INSTALL_K3S_EXEC=agent" in r.inputs["create"]]
    assert servers
    assert agents
    for install in servers:
        config = _node_config(install.inputs["create"])
        assert {k: config[k] for k in expected} == expected, install.name
        # No S3 credential in any node's file: they are in the cluster's Secret.
        assert not [k for k in config if k.endswith(("-key", "-secret-key"))]
    for install in agents:
        assert not [k for k in _node_config(install.inputs["create"]) if k.startswith("etcd")]
    for flag in expected:
        assert f"--{flag}" in K3S_SERVER_FLAGS


def test_the_platform_makes_the_secret_the_servers_name(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["platform"]
    secret = run.named("etcd-s3")
    metadata = secret.inputs["metadata"]
    assert metadata["namespace"] == "kube-system"
    assert metadata["name"] == _stack("cluster")["etcdSnapshots"]["s3ConfigSecret"]
    assert "stringData" in secret.secret_paths
    data = secret.inputs["stringData"]
    assert set(data) <= CONFIG_SECRET_KEYS
    target = _stack("platform")["backups"]["etcdS3"]
    assert data["etcd-s3-endpoint"] == target["endpoint"]
    assert data["etcd-s3-bucket"] == target["bucket"]
    assert data["etcd-s3-access-key"] == "test-secret-etcdS3AccessKey"
    assert data["etcd-s3-endpoint-ca"] == run.outputs["labCaCertPem"]
    assert data["etcd-s3-skip-ssl-verify"] == "false"


def test_secret_data_refuses_nothing_silently() -> None:
    target = EtcdS3Target(endpoint="s3.lab:9000", bucket="b-k3s")
    data = etcd_s3_secret_data(target, access_key="a", secret_key="s", ca_pem="PEM")
    assert data["etcd-s3-folder"] == "k3s"
    with pytest.raises(ValueError, match="bucket"):
        EtcdS3Target(endpoint="s3.lab:9000", bucket="Bad_Bucket")


def test_the_runbook_uses_the_rendered_names_and_documented_flags() -> None:
    text = RUNBOOK.read_text()
    cluster = _stack("cluster")["etcdSnapshots"]
    target = _stack("platform")["backups"]["etcdS3"]
    proxmox = _stack("proxmox")["backup"]
    # The table and the commands name what the stacks configure.
    assert f"`{cluster['scheduleCron']}`), {cluster['retention']} per server" in text
    assert f"kube-system/{cluster['s3ConfigSecret']}" in text
    assert f"--etcd-s3-endpoint={target['endpoint']}" in text
    assert f"--etcd-s3-bucket={target['bucket']}" in text
    assert f"--etcd-s3-folder={target['folder']}" in text
    assert f"lab/{target['bucket']}/{target['folder']}/" in text
    assert f"{DATA_DIR}/server/db/snapshots/" in text
    assert f"Proxmox storage `{proxmox['storage']}`" in text
    # Every k3s flag the runbook runs is one k3s has.
    used = set(re.findall(r"(--(?:etcd|cluster-reset)[\w-]*)", "\n".join(_runbook_blocks())))
    assert used
    assert used <= K3S_SERVER_FLAGS, used - K3S_SERVER_FLAGS
    # The CA path is where Ansible's k3s_prereqs installs the lab CA.
    ca_dir = yaml.safe_load((REPO / "roles" / "k3s_prereqs" / "vars" / "main.yml").read_text())[
        "_k3s_prereqs_ca_dir"
    ]
    assert f"--etcd-s3-endpoint-ca={ca_dir}/lab-ca.crt" in text
    # The TrueNAS snapshots it restores from are the declared ones.
    tasks = yaml.safe_load((REPO / "infra" / "truenas" / "snapshot-tasks.yml").read_text())
    datasets = {t["dataset"] for t in tasks["tasks"]}
    assert "tank/k8s/nfs/volumes" in datasets
    assert "zfs rollback -r tank/k8s/nfs/volumes/" in text


def test_the_runbook_shell_passes_shellcheck(tmp_path: Path) -> None:
    blocks = _runbook_blocks()
    assert len(blocks) >= 8
    for index, block in enumerate(blocks):
        # <placeholders> are for the reader; shellcheck would read them as redirections.
        script = "#!/bin/sh\n" + re.sub(r"<([\w .\-]+)>", r"PLACEHOLDER", block)
        path = tmp_path / f"block{index}.sh"
        path.write_text(script)
        result = subprocess.run(
            ["shellcheck", "-s", "sh", "-e", "SC2317", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"block {index}:\n{block}\n{result.stdout}"
