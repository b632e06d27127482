"""Every Helm chart the lab installs, pinned in one place.

Versions are exact (never ranges) and repositories are https or oci, which the policy
pack checks. Each pinned version's own values.yaml is vendored under
labinfra/upstream/charts/<chart>/<version>/ with its source (repository, path, tag, commit,
licence) and the template facts checked at that tag; a pin without them fails the tests.
kube-prometheus-stack 88.5.3 ships prometheus-operator v0.93.1, whose custom resources are
validated against the v0.93.0 CRD schemas (labinfra/schemas).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    name: str
    version: str
    repository: str
    """An https Helm repository, or "" when `name` is a full oci:// reference."""


KUBE_PROMETHEUS_STACK = Chart(
    # 88.5.3, not a 9x: the newest version whose source could be read at its tag here.
    "kube-prometheus-stack",
    "88.5.3",
    "https://prometheus-community.github.io/helm-charts",
)
LOKI = Chart("loki", "6.46.0", "https://grafana.github.io/helm-charts")
ALLOY = Chart("alloy", "1.4.0", "https://grafana.github.io/helm-charts")
ARC_CONTROLLER = Chart(
    "oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set-controller",
    "0.13.0",
    "",
)
ARC_RUNNER_SET = Chart(
    "oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set", "0.13.0", ""
)
CLOUDNATIVE_PG = Chart(
    # appVersion 1.30.0: the operator whose Cluster CRD labinfra/schemas vendors.
    "cloudnative-pg",
    "0.29.0",
    "https://cloudnative-pg.github.io/charts",
)
NFS_PROVISIONER = Chart(
    "nfs-subdir-external-provisioner",
    "4.0.18",
    "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner/",
)

REGISTRY_IMAGE = "docker.io/library/registry:3.0.0"
# prometheus-pve-exporter at the version tests/integrations runs against fakepve
# (requirements/pve.txt; tests/integrations/test_pve_exporter_image.py ties the two). Read
# at 3.10.2 from its PyPI sdist (prometheus_pve_exporter-3.10.2.tar.gz, sha256 a388d0b4...,
# which carries the tag's tree; the GitHub snapshot readable here ends at v3.10.0):
# prometheus-pve/prometheus-pve-exporter .github/workflows/container-image.yml @ v3.10.2
# pushes `prompve/prometheus-pve-exporter:{{version}}` on the GitHub release whose creation
# also runs pypi.yml (the PyPI upload), so the PyPI release implies this tag; Dockerfile @
# v3.10.2: alpine 3.24.2, USER prometheus (uid/gid 101), ENTRYPOINT pve_exporter, port 9221.
# A tag, not a digest: no registry is reachable here to read the digest (infra/README.md).
PVE_EXPORTER_IMAGE = "docker.io/prompve/prometheus-pve-exporter:3.10.2"
# The integrations' exporters (labinfra.monitoring.exporters names the upstream files read).
BLACKBOX_EXPORTER_IMAGE = "docker.io/prom/blackbox-exporter:v0.28.0"
GRAPHITE_EXPORTER_IMAGE = "docker.io/prom/graphite-exporter:v0.17.0"
NGINX_UNPRIVILEGED_IMAGE = "docker.io/nginxinc/nginx-unprivileged:1.30.4-alpine-slim"

# Storage backends (labinfra.storage); each chart's values.yaml is vendored under
# labinfra/upstream/charts/<chart>/<version>/ with its source.
PROXMOX_CSI = Chart("oci://ghcr.io/sergelogvinov/charts/proxmox-csi-plugin", "0.5.9", "")
DEMOCRATIC_CSI = Chart("democratic-csi", "0.15.1", "https://democratic-csi.github.io/charts/")
# kubernetes-csi/external-snapshotter v8.6.0: the CRDs under labinfra/schemas/crds/
# snapshot.storage.k8s.io are that tag's; the image tag is the release's (confirmed by
# third-party deployments pinning it; the tag's own manifest still names v8.5.0).
SNAPSHOT_CONTROLLER_IMAGE = "registry.k8s.io/sig-storage/snapshot-controller:v8.6.0"
