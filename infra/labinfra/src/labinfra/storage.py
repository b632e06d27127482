"""Storage classes from the lab's backends, selectable in the platform's `storage` config.

- Proxmox CSI (sergelogvinov/proxmox-csi-plugin, chart 0.5.9 = plugin v0.19.1): disks on
  a Proxmox storage, attached to the k3s node VMs. The plugin's user is
  `kubernetes-csi@pve` with the documented least-privilege role; its API token is a secret
  (`proxmoxCsiTokenSecret`) and reaches the plugin in a Secret, never in Helm values.
  Proxmox cluster = Kubernetes region, Proxmox node = zone: the cluster stack labels the
  VM nodes (labinfra.proxmox.topology_labels).
- TrueNAS NFS and iSCSI (democratic-csi, chart 0.15.1): one release per protocol, each with
  its driver config (API key `truenasCsiApiKey`) in a Secret and the lab CA as the
  driver's extra CA (`extraCaCerts` -> NODE_EXTRA_CA_CERTS).
- Volume snapshots: kubernetes-csi/external-snapshotter v8.6.0's CRDs (the files vendored
  under labinfra/schemas/crds/snapshot.storage.k8s.io, applied as they are) and its
  snapshot controller, and one VolumeSnapshotClass per backend that supports them.

The StorageClasses and VolumeSnapshotClasses are the lab's own objects (not the charts'),
so they are validated against the Kubernetes and snapshot.storage.k8s.io schemas.
Upstream facts are in the vendored charts' chart.yaml (labinfra/upstream/charts).
"""

from __future__ import annotations

import importlib.metadata
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pydantic import Field, field_validator, model_validator

from labinfra.charts import DEMOCRATIC_CSI, PROXMOX_CSI, SNAPSHOT_CONTROLLER_IMAGE
from labinfra.helm import helm_release
from labinfra.kube import child_options, restricted_container_security, secret
from labinfra.names import recommended_labels, selector_labels
from labinfra.stackconfig import ConfigModel

PROXMOX_CSI_NAMESPACE = "csi-proxmox"
DEMOCRATIC_CSI_NAMESPACE = "democratic-csi"
SNAPSHOT_NAMESPACE = "snapshot-controller"
PROXMOX_CSI_DRIVER = "csi.proxmox.sinextra.dev"
"""The chart's provisionerName (values.yaml) and the plugin's CSI driver name."""
PROXMOX_CSI_CONFIG_SECRET = "proxmox-csi-config"  # noqa: S105 (a Secret's name)
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
SNAPSHOT_CRDS = Path(__file__).resolve().parent / "schemas" / "crds" / "snapshot.storage.k8s.io"
"""external-snapshotter v8.6.0's CRDs: validated against and applied, one source."""
SNAPSHOT_CONTROLLER_PORT = 8080

_NAME = r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$"
_DATASET = r"^[A-Za-z0-9_.:-]+(/[A-Za-z0-9_.:-]+)+$"


class ProxmoxStorageClass(ConfigModel):
    name: str = Field(pattern=_NAME, max_length=63)
    storage: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    """The Proxmox storage id the disks are allocated on (`local-lvm`, `local-zfs`)."""
    fstype: Literal["ext4", "xfs"] = "ext4"
    ssd: bool = False
    cache: Literal["directsync", "none", "writeback", "writethrough"] | None = None
    reclaim_policy: Literal["Delete", "Retain"] = "Delete"


class ProxmoxCsi(ConfigModel):
    region: str = Field(pattern=_NAME)
    """The Proxmox cluster's name: the nodes' topology.kubernetes.io/region."""
    url: str = Field(pattern=r"^https://[\w.\-]+(:\d+)?/api2/json$")
    token_id: str = Field(default="kubernetes-csi@pve!csi", pattern=r"^[\w.\-]+@[\w.\-]+![\w.\-]+$")
    insecure: bool = False
    """Skip TLS verification. The plugin trusts only its image's system CAs (docs/config.md
    has no CA option): give Proxmox's API a certificate they accept rather than set this."""
    classes: list[ProxmoxStorageClass] = Field(min_length=1)
    snapshots: bool = False
    """Upstream's snapshots are experimental and need root@pam (docs/volumesnapshot.md),
    which the least-privilege role does not give: off unless asked for."""


class TrueNasNfs(ConfigModel):
    storage_class: str = Field(default="truenas-nfs", pattern=_NAME, max_length=63)
    dataset: str = Field(pattern=_DATASET)
    """Parent dataset of the volumes (`tank/k8s/nfs/volumes`)."""
    snapshot_dataset: str = Field(pattern=_DATASET)
    """Parent dataset of detached snapshots: a sibling of `dataset`, never nested."""
    share_host: str = Field(pattern=r"^[\w.\-]+$")
    """The address the nodes mount from (TrueNAS on the storage network)."""
    allowed_networks: list[str] = Field(default_factory=list)
    """Who may mount the shares (the nodes' networks); empty means everyone."""
    reclaim_policy: Literal["Delete", "Retain"] = "Retain"

    @field_validator("allowed_networks")
    @classmethod
    def _cidrs(cls, networks: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(n, strict=True)) for n in networks]


class TrueNasIscsi(ConfigModel):
    storage_class: str = Field(default="truenas-iscsi", pattern=_NAME, max_length=63)
    dataset: str = Field(pattern=_DATASET)
    snapshot_dataset: str = Field(pattern=_DATASET)
    target_portal: str = Field(pattern=r"^[\w.\-]+:\d+$")
    portal_group: int = Field(ge=1)
    """TrueNAS's iSCSI portal id (Sharing > iSCSI > Portals)."""
    initiator_group: int = Field(ge=1)
    fstype: Literal["ext4", "xfs"] = "ext4"
    reclaim_policy: Literal["Delete", "Retain"] = "Retain"


class TrueNasCsi(ConfigModel):
    host: str = Field(pattern=r"^[\w.\-]+$")
    """TrueNAS's API host name; its certificate must verify against the lab CA."""
    port: int = Field(default=443, ge=1, le=65535)
    driver_image: str = Field(pattern=r"^[a-z0-9.\-]+/[a-z0-9._/\-]+:[\w.\-]+@sha256:[0-9a-f]{64}$")
    """democratic-csi's image, pinned by digest: the chart defaults to `latest`."""
    nfs: TrueNasNfs | None = None
    iscsi: TrueNasIscsi | None = None

    @model_validator(mode="after")
    def _sane(self) -> TrueNasCsi:
        if not self.nfs and not self.iscsi:
            raise ValueError("truenas: configure nfs, iscsi or both")
        for backend in (self.nfs, self.iscsi):
            if backend and _nested(backend.dataset, backend.snapshot_dataset):
                raise ValueError(
                    f"truenas: {backend.dataset} and {backend.snapshot_dataset} must be "
                    "siblings, not one inside the other (democratic-csi examples)"
                )
        if self.nfs and self.iscsi and _nested(self.nfs.dataset, self.iscsi.dataset):
            raise ValueError("truenas: the nfs and iscsi datasets overlap")
        return self


def _nested(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


class StorageSettings(ConfigModel):
    proxmox_csi: ProxmoxCsi | None = None
    truenas: TrueNasCsi | None = None
    default_class: str | None = None
    """The StorageClass marked default (k3s's local-path otherwise stays the default)."""

    @model_validator(mode="after")
    def _known_default(self) -> StorageSettings:
        names = self.class_names()
        if len(names) != len(set(names)):
            raise ValueError(f"storage: a StorageClass name is used twice: {names}")
        if self.default_class and self.default_class not in names:
            raise ValueError(
                f"storage.defaultClass {self.default_class!r} is not one of {sorted(names)}"
            )
        return self

    def class_names(self) -> list[str]:
        names = [c.name for c in self.proxmox_csi.classes] if self.proxmox_csi else []
        if self.truenas and self.truenas.nfs:
            names.append(self.truenas.nfs.storage_class)
        if self.truenas and self.truenas.iscsi:
            names.append(self.truenas.iscsi.storage_class)
        return names

    @property
    def enabled(self) -> bool:
        return bool(self.proxmox_csi or self.truenas)

    def secret_keys(self) -> list[str]:
        keys = []
        if self.proxmox_csi:
            keys.append("proxmoxCsiTokenSecret")
        if self.truenas:
            keys.append("truenasCsiApiKey")
        return keys


# -- pure builders -------------------------------------------------------------------------


def proxmox_csi_config(settings: ProxmoxCsi, token_secret: str) -> dict[str, Any]:
    """The plugin's config.yaml (docs/config.md at v0.19.1)."""
    return {
        "features": {"provider": "default"},
        "clusters": [
            {
                "url": settings.url,
                "insecure": settings.insecure,
                "token_id": settings.token_id,
                "token_secret": token_secret,
                "region": settings.region,
            }
        ],
    }


def proxmox_csi_values(settings: ProxmoxCsi) -> dict[str, Any]:
    return {
        "existingConfigSecret": PROXMOX_CSI_CONFIG_SECRET,
        "existingConfigSecretKey": "config.yaml",
        "controller": {"snapshotter": {"enabled": settings.snapshots}},
        # Only VMs of this Proxmox cluster can have its disks attached: the node plugin
        # runs on the nodes labelled with its region (Pis and other hosts have none).
        "node": {"nodeSelector": {REGION_LABEL: settings.region}},
    }


def democratic_csi_driver_config(
    settings: TrueNasCsi, protocol: Literal["nfs", "iscsi"], api_key: str
) -> dict[str, Any]:
    """democratic-csi's driver-config-file.yaml for one protocol.

    Keys as democratic-csi's examples define them (examples/freenas-api-{nfs,iscsi}.yaml at
    8a4a28a); the driver is the SCALE 25.04+ one (`truenas-<protocol>`, WebSocket JSON-RPC
    API, no SSH). `shareAlldirs` is left out: 25.04's sharing.nfs refuses it
    (democratic-csi#532).
    """
    connection = {
        "protocol": "https",
        "host": settings.host,
        "port": settings.port,
        "apiKey": api_key,
        # Verified against the lab CA (extraCaCerts), never skipped.
        "allowInsecure": False,
    }
    if protocol == "nfs":
        nfs = settings.nfs
        assert nfs is not None
        return {
            "driver": "truenas-nfs",
            "httpConnection": connection,
            "zfs": {
                "datasetParentName": nfs.dataset,
                "detachedSnapshotsDatasetParentName": nfs.snapshot_dataset,
                "datasetEnableQuotas": True,
                "datasetEnableReservation": False,
                "datasetPermissionsMode": "0770",
                "datasetPermissionsUser": 0,
                "datasetPermissionsGroup": 0,
            },
            "nfs": {
                "shareHost": nfs.share_host,
                "shareAllowedHosts": [],
                "shareAllowedNetworks": list(nfs.allowed_networks),
                "shareMaprootUser": "root",
                "shareMaprootGroup": "root",
                "shareMapallUser": "",
                "shareMapallGroup": "",
            },
        }
    iscsi = settings.iscsi
    assert iscsi is not None
    return {
        "driver": "truenas-iscsi",
        "httpConnection": connection,
        "zfs": {
            "datasetParentName": iscsi.dataset,
            "detachedSnapshotsDatasetParentName": iscsi.snapshot_dataset,
            "zvolEnableReservation": False,
        },
        "iscsi": {
            "targetPortal": iscsi.target_portal,
            "targetPortals": [],
            "namePrefix": "csi-",
            "nameSuffix": "-lab",
            "targetGroups": [
                {
                    "targetGroupPortalGroup": iscsi.portal_group,
                    "targetGroupInitiatorGroup": iscsi.initiator_group,
                    "targetGroupAuthType": "None",
                }
            ],
            "extentInsecureTpc": True,
            "extentXenCompat": False,
            "extentDisablePhysicalBlocksize": True,
            "extentBlocksize": 512,
            "extentRpm": "SSD",
            "extentAvailThreshold": 0,
        },
    }


def democratic_csi_driver_name(protocol: str) -> str:
    return f"org.democratic-csi.truenas-{protocol}"


def split_image(image: str) -> tuple[str, str]:
    """`repo:tag@sha256:…` -> (`repo`, `tag@sha256:…`): the chart renders `registry:tag`."""
    name, _, digest = image.partition("@")
    repository, tag = name.rsplit(":", 1)
    return repository, f"{tag}@{digest}" if digest else tag


def democratic_csi_values(
    settings: TrueNasCsi, protocol: Literal["nfs", "iscsi"], config_secret: str
) -> dict[str, Any]:
    repository, tag = split_image(settings.driver_image)
    image = {"image": {"registry": repository, "tag": tag}}
    return {
        "csiDriver": {"name": democratic_csi_driver_name(protocol)},
        # The chart still reads driver.config.driver with an existing Secret.
        "driver": {
            "existingConfigSecret": config_secret,
            "config": {"driver": f"truenas-{protocol}"},
        },
        "controller": {"driver": dict(image)},
        "node": {"driver": dict(image)},
    }


def storage_class_objects(settings: StorageSettings) -> list[dict[str, Any]]:
    """Every StorageClass (name, provisioner, parameters...) the settings ask for."""
    classes: list[dict[str, Any]] = []
    pve = settings.proxmox_csi
    if pve:
        for c in pve.classes:
            parameters = {"csi.storage.k8s.io/fstype": c.fstype, "storage": c.storage}
            if c.cache:
                parameters["cache"] = c.cache
            if c.ssd:
                parameters["ssd"] = "true"
            classes.append(
                {
                    "name": c.name,
                    "provisioner": PROXMOX_CSI_DRIVER,
                    "parameters": parameters,
                    "reclaimPolicy": c.reclaim_policy,
                    # Local disks: the volume is made where the pod is scheduled.
                    "volumeBindingMode": "WaitForFirstConsumer",
                    "allowVolumeExpansion": True,
                    "allowedTopologies": [
                        {
                            "matchLabelExpressions": [
                                {"key": REGION_LABEL, "values": [pve.region]},
                            ]
                        }
                    ],
                }
            )
    nas = settings.truenas
    if nas and nas.nfs:
        classes.append(
            {
                "name": nas.nfs.storage_class,
                "provisioner": democratic_csi_driver_name("nfs"),
                "parameters": {"fsType": "nfs"},
                "reclaimPolicy": nas.nfs.reclaim_policy,
                "volumeBindingMode": "Immediate",
                "allowVolumeExpansion": True,
                "mountOptions": ["noatime", "nfsvers=4.2"],
            }
        )
    if nas and nas.iscsi:
        classes.append(
            {
                "name": nas.iscsi.storage_class,
                "provisioner": democratic_csi_driver_name("iscsi"),
                "parameters": {"fsType": nas.iscsi.fstype},
                "reclaimPolicy": nas.iscsi.reclaim_policy,
                "volumeBindingMode": "Immediate",
                "allowVolumeExpansion": True,
            }
        )
    return classes


def snapshot_class_objects(settings: StorageSettings) -> list[dict[str, Any]]:
    """One VolumeSnapshotClass per backend that takes snapshots."""
    found: list[dict[str, Any]] = []
    if settings.proxmox_csi and settings.proxmox_csi.snapshots:
        found.append({"name": "proxmox", "driver": PROXMOX_CSI_DRIVER, "parameters": {}})
    nas = settings.truenas
    for protocol in ("nfs", "iscsi"):
        if nas and getattr(nas, protocol):
            found.append(
                {
                    "name": f"truenas-{protocol}",
                    "driver": democratic_csi_driver_name(protocol),
                    # ZFS snapshots in place (instant); detached ones are full copies.
                    "parameters": {"detachedSnapshots": "false"},
                }
            )
    return found


def snapshot_crds() -> list[dict[str, Any]]:
    """The vendored snapshot.storage.k8s.io CRDs, as documents."""
    docs = []
    for path in sorted(SNAPSHOT_CRDS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                docs.append(doc)
    if len(docs) != 3:
        raise RuntimeError(f"expected 3 snapshot CRDs under {SNAPSHOT_CRDS}, found {len(docs)}")
    return docs


SNAPSHOT_CONTROLLER_RULES: list[dict[str, Any]] = [
    # external-snapshotter v8.6.0, deploy/kubernetes/snapshot-controller/
    # rbac-snapshot-controller.yaml (ClusterRole snapshot-controller-runner).
    {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get", "list", "watch"]},
    {
        "apiGroups": [""],
        "resources": ["persistentvolumeclaims"],
        "verbs": ["get", "list", "watch", "update"],
    },
    {
        "apiGroups": [""],
        "resources": ["events"],
        "verbs": ["list", "watch", "create", "update", "patch"],
    },
    {
        "apiGroups": ["snapshot.storage.k8s.io"],
        "resources": ["volumesnapshotclasses"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["snapshot.storage.k8s.io"],
        "resources": ["volumesnapshotcontents"],
        "verbs": ["create", "get", "list", "watch", "update", "delete", "patch"],
    },
    {
        "apiGroups": ["snapshot.storage.k8s.io"],
        "resources": ["volumesnapshotcontents/status"],
        "verbs": ["patch"],
    },
    {
        "apiGroups": ["snapshot.storage.k8s.io"],
        "resources": ["volumesnapshots"],
        "verbs": ["create", "get", "list", "watch", "update", "patch", "delete"],
    },
    {
        "apiGroups": ["snapshot.storage.k8s.io"],
        "resources": ["volumesnapshots/status"],
        "verbs": ["update", "patch"],
    },
]


# -- the component -------------------------------------------------------------------------


@dataclass(frozen=True)
class StorageArgs:
    settings: StorageSettings
    lab_ca_pem: pulumi.Input[str]
    secrets: Mapping[str, pulumi.Input[str]]
    """`proxmoxCsiTokenSecret` and/or `truenasCsiApiKey`, as the settings need."""


class Storage(pulumi.ComponentResource):
    """CSI drivers, their StorageClasses, the snapshot controller and VolumeSnapshotClasses."""

    def __init__(
        self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:platform:Storage", name, None, opts)
        self._name = name
        self._args = args
        self._opts = child_options(self, opts)
        self.namespaces: dict[str, k8s.core.v1.Namespace] = {}
        s = args.settings
        crds = self._snapshot_controller()
        drivers: list[pulumi.Resource] = []
        if s.proxmox_csi:
            drivers.append(self._proxmox(s.proxmox_csi))
        if s.truenas:
            drivers += self._truenas(s.truenas)
        self._classes(crds, drivers)
        self.register_outputs({})

    def _with(self, *depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions.merge(
            self._opts, pulumi.ResourceOptions(depends_on=list(depends_on))
        )

    def _namespace(self, namespace: str, level: str) -> k8s.core.v1.Namespace:
        self.namespaces[namespace] = k8s.core.v1.Namespace(
            f"{self._name}-namespace-{namespace}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=namespace,
                labels={
                    **recommended_labels(namespace, "namespace"),
                    "pod-security.kubernetes.io/enforce": level,
                },
            ),
            opts=self._opts,
        )
        return self.namespaces[namespace]

    def _secret(
        self,
        resource: str,
        name: str,
        namespace: str,
        key: str,
        text: pulumi.Input[str],
        after: pulumi.Resource,
    ) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            f"{self._name}-{resource}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name, namespace=namespace, labels=recommended_labels(name, "csi-credentials")
            ),
            string_data={key: secret(text)},
            opts=self._with(after),
        )

    # -- Proxmox CSI ----------------------------------------------------------------------

    def _proxmox(self, settings: ProxmoxCsi) -> pulumi.Resource:
        namespace = self._namespace(PROXMOX_CSI_NAMESPACE, "privileged")
        token = self._args.secrets["proxmoxCsiTokenSecret"]
        config = self._secret(
            "proxmox-csi-config",
            PROXMOX_CSI_CONFIG_SECRET,
            PROXMOX_CSI_NAMESPACE,
            "config.yaml",
            pulumi.Output.from_input(token).apply(
                lambda value: yaml.safe_dump(proxmox_csi_config(settings, value), sort_keys=False)
            ),
            namespace,
        )
        return helm_release(
            f"{self._name}-proxmox-csi",
            PROXMOX_CSI,
            PROXMOX_CSI_NAMESPACE,
            proxmox_csi_values(settings),
            self._with(namespace, config),
            release_name="proxmox-csi-plugin",
        )

    # -- TrueNAS (democratic-csi) ---------------------------------------------------------

    def _truenas(self, settings: TrueNasCsi) -> list[pulumi.Resource]:
        namespace = self._namespace(DEMOCRATIC_CSI_NAMESPACE, "privileged")
        api_key = self._args.secrets["truenasCsiApiKey"]
        releases: list[pulumi.Resource] = []
        protocols: list[Literal["nfs", "iscsi"]] = []
        if settings.nfs:
            protocols.append("nfs")
        if settings.iscsi:
            protocols.append("iscsi")
        for protocol in protocols:
            secret_name = f"truenas-{protocol}-driver-config"

            def render(key: str, protocol: Literal["nfs", "iscsi"] = protocol) -> str:
                config = democratic_csi_driver_config(settings, protocol, key)
                return yaml.safe_dump(config, sort_keys=False)

            config = self._secret(
                f"truenas-{protocol}-config",
                secret_name,
                DEMOCRATIC_CSI_NAMESPACE,
                "driver-config-file.yaml",
                pulumi.Output.from_input(api_key).apply(render),
                namespace,
            )
            values = democratic_csi_values(settings, protocol, secret_name)
            # The driver verifies TrueNAS's certificate against the lab CA.
            values["extraCaCerts"] = self._args.lab_ca_pem
            releases.append(
                helm_release(
                    f"{self._name}-truenas-{protocol}",
                    DEMOCRATIC_CSI,
                    DEMOCRATIC_CSI_NAMESPACE,
                    values,
                    self._with(namespace, config),
                    release_name=f"truenas-{protocol}",
                )
            )
        return releases

    # -- snapshot controller --------------------------------------------------------------

    def _snapshot_controller(self) -> list[pulumi.Resource]:
        crds: list[pulumi.Resource] = []
        for doc in snapshot_crds():
            name = doc["metadata"]["name"]
            metadata = dict(doc["metadata"])
            metadata["labels"] = {
                **(metadata.get("labels") or {}),
                **recommended_labels("snapshot-controller", "crd", instance=name),
            }
            crds.append(
                k8s.apiextensions.v1.CustomResourceDefinition(
                    f"{self._name}-crd-{name.split('.', 1)[0]}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=name,
                        labels=metadata["labels"],
                        annotations=metadata.get("annotations"),
                    ),
                    spec=doc["spec"],
                    opts=self._opts,
                )
            )
        namespace = self._namespace(SNAPSHOT_NAMESPACE, "restricted")
        app = "snapshot-controller"
        labels = recommended_labels(app, "snapshot-controller", version="v8.6.0")
        meta = k8s.meta.v1.ObjectMetaArgs(name=app, namespace=SNAPSHOT_NAMESPACE, labels=labels)
        account = k8s.core.v1.ServiceAccount(
            f"{self._name}-snapshot-controller-sa", metadata=meta, opts=self._with(namespace)
        )
        role = k8s.rbac.v1.ClusterRole(
            f"{self._name}-snapshot-controller-runner",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="snapshot-controller-runner", labels=labels),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=r["apiGroups"], resources=r["resources"], verbs=r["verbs"]
                )
                for r in SNAPSHOT_CONTROLLER_RULES
            ],
            opts=self._opts,
        )
        subject = k8s.rbac.v1.SubjectArgs(
            kind="ServiceAccount", name=app, namespace=SNAPSHOT_NAMESPACE
        )
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{self._name}-snapshot-controller-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="snapshot-controller-role", labels=labels),
            subjects=[subject],
            role_ref=k8s.rbac.v1.RoleRefArgs(
                kind="ClusterRole",
                name="snapshot-controller-runner",
                api_group="rbac.authorization.k8s.io",
            ),
            opts=self._with(role, account),
        )
        election_meta = k8s.meta.v1.ObjectMetaArgs(
            name="snapshot-controller-leaderelection", namespace=SNAPSHOT_NAMESPACE, labels=labels
        )
        election = k8s.rbac.v1.Role(
            f"{self._name}-snapshot-controller-leaderelection",
            metadata=election_meta,
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=["coordination.k8s.io"],
                    resources=["leases"],
                    verbs=["get", "watch", "list", "delete", "update", "create"],
                )
            ],
            opts=self._with(namespace),
        )
        election_binding = k8s.rbac.v1.RoleBinding(
            f"{self._name}-snapshot-controller-leaderelection-binding",
            metadata=election_meta,
            subjects=[subject],
            role_ref=k8s.rbac.v1.RoleRefArgs(
                kind="Role",
                name="snapshot-controller-leaderelection",
                api_group="rbac.authorization.k8s.io",
            ),
            opts=self._with(election, account),
        )
        probe = k8s.core.v1.ProbeArgs(
            # csi-lib-utils leaderelection.HealthCheckerAddress, served on --http-endpoint.
            http_get=k8s.core.v1.HTTPGetActionArgs(path="/healthz/leader-election", port="http"),
            period_seconds=20,
            timeout_seconds=10,
            failure_threshold=3,
        )
        k8s.apps.v1.Deployment(
            f"{self._name}-snapshot-controller",
            metadata=meta,
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # Upstream's setup-snapshot-controller.yaml: two replicas, one leader; ready
                # only once the CRDs exist (minReadySeconds above --retry-crd-interval-max).
                replicas=2,
                min_ready_seconds=35,
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                        max_surge=0, max_unavailable=1
                    ),
                ),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(app)),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=app,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=65532,
                            run_as_group=65532,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name=app,
                                image=SNAPSHOT_CONTROLLER_IMAGE,
                                image_pull_policy="IfNotPresent",
                                args=[
                                    "--v=2",
                                    "--leader-election=true",
                                    f"--http-endpoint=:{SNAPSHOT_CONTROLLER_PORT}",
                                ],
                                ports=[
                                    k8s.core.v1.ContainerPortArgs(
                                        name="http", container_port=SNAPSHOT_CONTROLLER_PORT
                                    )
                                ],
                                liveness_probe=probe,
                                readiness_probe=probe,
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={"cpu": "10m", "memory": "32Mi"},
                                    limits={"cpu": "200m", "memory": "128Mi"},
                                ),
                                security_context=restricted_container_security(),
                            )
                        ],
                    ),
                ),
            ),
            opts=self._with(binding, election_binding, *crds),
        )
        return crds

    # -- classes --------------------------------------------------------------------------

    def _classes(self, crds: list[pulumi.Resource], drivers: list[pulumi.Resource]) -> None:
        s = self._args.settings
        for c in storage_class_objects(s):
            annotations = (
                {"storageclass.kubernetes.io/is-default-class": "true"}
                if c["name"] == s.default_class
                else None
            )
            k8s.storage.v1.StorageClass(
                f"{self._name}-class-{c['name']}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=c["name"],
                    labels=recommended_labels(c["name"], "storage-class"),
                    annotations=annotations,
                ),
                provisioner=c["provisioner"],
                parameters=c["parameters"],
                reclaim_policy=c["reclaimPolicy"],
                volume_binding_mode=c["volumeBindingMode"],
                allow_volume_expansion=c["allowVolumeExpansion"],
                allowed_topologies=c.get("allowedTopologies"),
                mount_options=c.get("mountOptions"),
                opts=self._with(*drivers),
            )
        for snap in snapshot_class_objects(s):
            body: dict[str, Any] = {"driver": snap["driver"], "deletionPolicy": "Delete"}
            if snap["parameters"]:
                body["parameters"] = snap["parameters"]
            TopLevelCustomResource(
                f"{self._name}-snapshot-class-{snap['name']}",
                api_version="snapshot.storage.k8s.io/v1",
                kind="VolumeSnapshotClass",
                metadata={
                    "name": snap["name"],
                    "labels": recommended_labels(snap["name"], "snapshot-class"),
                },
                body=body,
                # The CRD first, and the driver that answers for the class.
                opts=self._with(*crds, *drivers),
            )


class TopLevelCustomResource(pulumi.CustomResource):
    """A custom resource whose fields sit beside `metadata`, not under `spec`
    (VolumeSnapshotClass: `driver`, `deletionPolicy`, `parameters`), which
    `apiextensions.CustomResource` cannot express. Registered under the same
    `kubernetes:<apiVersion>:<kind>` type and provider version that it uses."""

    def __init__(
        self,
        name: str,
        *,
        api_version: str,
        kind: str,
        metadata: Mapping[str, Any],
        body: Mapping[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> None:
        props = {"apiVersion": api_version, "kind": kind, "metadata": dict(metadata), **body}
        version = pulumi.ResourceOptions(version=importlib.metadata.version("pulumi-kubernetes"))
        super().__init__(
            f"kubernetes:{api_version}:{kind}",
            name,
            props,
            pulumi.ResourceOptions.merge(opts, version),
        )
