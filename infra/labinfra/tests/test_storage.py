"""Storage classes from Proxmox (proxmox-csi-plugin) and TrueNAS (democratic-csi), the
snapshot controller and the VolumeSnapshotClasses, as the platform stack deploys them.

Under Pulumi's mocks (no cluster, no Proxmox, no TrueNAS here): the recorded objects are
checked against the Kubernetes and vendored snapshot.storage.k8s.io schemas (test_stacks),
the Helm values against the charts' vendored values.yaml, and the drivers' own config files
against the upstream example configs vendored in labinfra/upstream/driver-configs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from labinfra import charts
from labinfra.offline.harness import (
    ProgramFailedError,
    RunOptions,
    StackOutputs,
    StackRun,
    run_project,
)
from labinfra.offline.lab import PROJECTS_DIR
from labinfra.offline.validate import CrdCatalog, check_stack, validate_objects
from labinfra.storage import (
    SNAPSHOT_CRDS,
    StorageSettings,
    TrueNasCsi,
    democratic_csi_driver_config,
    proxmox_csi_config,
    split_image,
)
from labinfra.upstream import vendored_chart
from labpolicies.pss import violations

from .conftest import FIXTURE_INVENTORY

DRIVER_CONFIGS = (
    Path(__file__).resolve().parents[1] / "src" / "labinfra" / "upstream" / "driver-configs"
)
STACK = yaml.safe_load((PROJECTS_DIR / "platform" / "Pulumi.lab.yaml").read_text())["config"]


def _settings(**changes: Any) -> StorageSettings:
    data = {**STACK["lab-platform:storage"], **changes}
    return StorageSettings.model_validate(data)


def _platform(lab_runs: dict[str, StackRun], **overrides: Any) -> StackRun:
    cluster = lab_runs["cluster"]
    return run_project(
        PROJECTS_DIR / "platform",
        "lab",
        RunOptions(
            overrides={"inventory": str(FIXTURE_INVENTORY), **overrides},
            stack_references={
                "organization/lab-cluster/lab": StackOutputs(
                    cluster.outputs, cluster.secret_outputs
                )
            },
        ),
    )


def _kind(run: StackRun, kind: str) -> dict[str, Any]:
    return {
        r.inputs["metadata"]["name"]: r.inputs
        for r in run.kubernetes_objects()
        if r.inputs["kind"] == kind
    }


def _paths(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for child in value:
            yield from _paths(child, f"{prefix}[]")
    else:
        yield prefix


def test_every_backend_has_its_class_and_snapshot_class(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["platform"]
    classes = _kind(run, "StorageClass")
    snapshots = _kind(run, "VolumeSnapshotClass")
    assert set(classes) == {"proxmox-lvm", "truenas-nfs", "truenas-iscsi"}
    # Proxmox CSI snapshots need root@pam upstream: off in the example, so no class.
    assert set(snapshots) == {"truenas-nfs", "truenas-iscsi"}
    # The provisioner of each class is the driver name its release registers.
    proxmox_chart = vendored_chart(charts.PROXMOX_CSI.name, charts.PROXMOX_CSI.version)
    assert classes["proxmox-lvm"]["provisioner"] == proxmox_chart.values["provisionerName"]
    releases = {r.inputs["name"]: r.inputs["values"] for r in run.helm_releases()}
    for protocol in ("nfs", "iscsi"):
        driver = releases[f"truenas-{protocol}"]["csiDriver"]["name"]
        assert classes[f"truenas-{protocol}"]["provisioner"] == driver
        assert snapshots[f"truenas-{protocol}"]["driver"] == driver
    assert classes["truenas-nfs"]["metadata"]["annotations"] == {
        "storageclass.kubernetes.io/is-default-class": "true"
    }
    assert "annotations" not in classes["proxmox-lvm"]["metadata"]
    proxmox = classes["proxmox-lvm"]
    assert proxmox["parameters"] == {
        "csi.storage.k8s.io/fstype": "ext4",
        "storage": "local-lvm",
        "ssd": "true",
    }
    assert proxmox["volumeBindingMode"] == "WaitForFirstConsumer"
    (term,) = proxmox["allowedTopologies"]
    assert term["matchLabelExpressions"] == [
        {"key": "topology.kubernetes.io/region", "values": ["lab"]}
    ]


def test_proxmox_snapshots_are_opt_in(lab_runs: dict[str, StackRun], crds: CrdCatalog) -> None:
    storage = dict(STACK["lab-platform:storage"])
    storage["proxmoxCsi"] = {**storage["proxmoxCsi"], "snapshots": True}
    run = _platform(lab_runs, storage=storage)
    snapshot = _kind(run, "VolumeSnapshotClass")["proxmox"]
    assert snapshot["driver"] == "csi.proxmox.sinextra.dev"
    release = run.named("storage-proxmox-csi").inputs["values"]
    assert release["controller"]["snapshotter"]["enabled"] is True
    assert validate_objects(run, crds) == []


def test_snapshot_classes_wait_for_their_crd_and_driver(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["platform"]
    crd = run.named("storage-crd-volumesnapshotclasses")
    for name in ("truenas-nfs", "truenas-iscsi"):
        snapshot_class = run.named(f"storage-snapshot-class-{name}")
        assert run.depends_on(snapshot_class, crd)
        assert run.depends_on(snapshot_class, run.named(f"storage-{name}"))
    controller = run.named("storage-snapshot-controller")
    assert run.depends_on(controller, crd)


def test_the_applied_crds_are_the_vendored_ones(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["platform"]
    applied = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in run.kubernetes_objects()
        if r.inputs["kind"] == "CustomResourceDefinition"
    }
    vendored = {}
    for path in SNAPSHOT_CRDS.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        vendored[doc["metadata"]["name"]] = doc["spec"]
    assert applied.keys() == vendored.keys()
    assert len(applied) == 3
    for name, spec in vendored.items():
        assert applied[name] == spec, name


def test_snapshot_controller_meets_restricted(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["platform"]
    namespaces = _kind(run, "Namespace")
    labels = namespaces["snapshot-controller"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    template = run.named("storage-snapshot-controller").inputs["spec"]["template"]
    assert violations(template["metadata"], template["spec"], "restricted") == []
    (container,) = template["spec"]["containers"]
    assert container["image"] == charts.SNAPSHOT_CONTROLLER_IMAGE
    assert "--leader-election=true" in container["args"]
    role = _kind(run, "ClusterRole")["snapshot-controller-runner"]
    groups = {g for rule in role["rules"] for g in rule["apiGroups"]}
    # No group snapshots: the controller only watches them with its feature gate on.
    assert groups == {"", "snapshot.storage.k8s.io"}
    # The CSI drivers' node plugins are privileged (the charts' facts): their namespaces too.
    for namespace in ("csi-proxmox", "democratic-csi"):
        level = namespaces[namespace]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        assert level == "privileged"


def test_credentials_reach_the_drivers_only_in_secrets(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["platform"]
    proxmox = run.named("storage-proxmox-csi-config")
    assert "stringData" in proxmox.secret_paths
    config = yaml.safe_load(proxmox.inputs["stringData"]["config.yaml"])
    (cluster,) = config["clusters"]
    assert cluster["token_secret"] == "test-secret-proxmoxCsiTokenSecret"
    assert cluster["token_id"] == "kubernetes-csi@pve!csi"
    assert cluster["insecure"] is False
    values = run.named("storage-proxmox-csi").inputs["values"]
    assert values["existingConfigSecret"] == proxmox.inputs["metadata"]["name"]
    assert values["existingConfigSecretKey"] in proxmox.inputs["stringData"]
    assert "test-secret" not in repr(values)
    for protocol in ("nfs", "iscsi"):
        secret = run.named(f"storage-truenas-{protocol}-config")
        assert "stringData" in secret.secret_paths
        driver = yaml.safe_load(secret.inputs["stringData"]["driver-config-file.yaml"])
        assert driver["driver"] == f"truenas-{protocol}"
        assert driver["httpConnection"]["apiKey"] == "test-secret-truenasCsiApiKey"
        assert driver["httpConnection"]["allowInsecure"] is False
        release = run.named(f"storage-truenas-{protocol}").inputs["values"]
        assert release["driver"]["existingConfigSecret"] == secret.inputs["metadata"]["name"]
        # The driver verifies TrueNAS against the lab CA (NODE_EXTRA_CA_CERTS).
        assert release["extraCaCerts"] == run.outputs["labCaCertPem"]
        assert "test-secret" not in repr(release)


def test_driver_configs_use_only_keys_upstream_defines() -> None:
    """Like chart values against values.yaml: a misspelt driver key would be ignored."""
    settings = _settings()
    assert settings.truenas is not None
    assert settings.proxmox_csi is not None
    for protocol in ("nfs", "iscsi"):
        example = yaml.safe_load(
            (DRIVER_CONFIGS / f"democratic-csi-freenas-api-{protocol}.yaml").read_text()
        )
        # The examples show `apiKey` commented out ("use only 1 of apiKey or
        # username/password ... apiKey is preferred"): documented, not set by default.
        known = set(_paths(example)) | {"httpConnection.apiKey"}
        ours = set(_paths(democratic_csi_driver_config(settings.truenas, protocol, "k")))  # type: ignore[arg-type]
        assert ours - known == set(), protocol
    example = yaml.safe_load((DRIVER_CONFIGS / "proxmox-csi-config.yaml").read_text())
    known = set(_paths(example))
    assert set(_paths(proxmox_csi_config(settings.proxmox_csi, "s"))) - known == set()
    # And the check can fail.
    assert "nfs.shareAlldir" not in known


def test_the_chart_renders_the_pinned_image_with_its_digest(lab_runs: dict[str, StackRun]) -> None:
    """democratic-csi renders `<image.registry>:<image.tag>` (templates/_helpers.tpl)."""
    image = _settings().truenas.driver_image  # type: ignore[union-attr]
    values = lab_runs["platform"].named("storage-truenas-nfs").inputs["values"]
    for part in ("controller", "node"):
        rendered = "{registry}:{tag}".format(**values[part]["driver"]["image"])
        assert rendered == image
    assert split_image("a.io/b/c:1.0@sha256:" + "f" * 64) == ("a.io/b/c", "1.0@sha256:" + "f" * 64)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "truenas": {
                    **STACK["lab-platform:storage"]["truenas"],
                    "driverImage": "ghcr.io/democratic-csi/democratic-csi:next",
                }
            },
            "driverImage",
        ),
        ({"defaultClass": "fast"}, "storage.defaultClass 'fast' is not one of"),
        (
            {
                "truenas": {
                    **STACK["lab-platform:storage"]["truenas"],
                    "nfs": {
                        **STACK["lab-platform:storage"]["truenas"]["nfs"],
                        "snapshotDataset": "tank/k8s/nfs/volumes/snaps",
                    },
                }
            },
            "must be siblings",
        ),
        (
            {
                "truenas": {
                    "host": "t",
                    "driverImage": STACK["lab-platform:storage"]["truenas"]["driverImage"],
                }
            },
            "configure nfs, iscsi or both",
        ),
    ],
)
def test_bad_storage_settings_are_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _settings(**change)


def test_missing_storage_secrets_are_named(lab_runs: dict[str, StackRun]) -> None:
    with pytest.raises(ProgramFailedError) as failed:
        _platform(lab_runs, proxmoxCsiTokenSecret=None, truenasCsiApiKey=None)
    text = str(failed.value.__cause__)
    assert "lab-platform:proxmoxCsiTokenSecret: missing secret" in text
    assert "lab-platform:truenasCsiApiKey: missing secret" in text


def test_storage_can_be_off_or_one_backend(lab_runs: dict[str, StackRun], crds: CrdCatalog) -> None:
    off = _platform(lab_runs, storage={}, proxmoxCsiTokenSecret=None, truenasCsiApiKey=None)
    assert not [r for r in off.resources if r.name.startswith("storage")]
    storage = dict(STACK["lab-platform:storage"])
    del storage["truenas"]
    storage["defaultClass"] = "proxmox-lvm"
    only = _platform(lab_runs, storage=storage, truenasCsiApiKey=None)
    assert set(_kind(only, "StorageClass")) == {"proxmox-lvm"}
    assert _kind(only, "VolumeSnapshotClass") == {}
    # The snapshot controller runs whenever a CSI driver does.
    assert only.named("storage-snapshot-controller")
    for run in (off, only):
        assert validate_objects(run, crds) == []
        assert check_stack(run) == []


def test_truenas_settings_allow_one_protocol() -> None:
    base = STACK["lab-platform:storage"]["truenas"]
    only_nfs = TrueNasCsi.model_validate({k: v for k, v in base.items() if k != "iscsi"})
    assert only_nfs.iscsi is None
