"""The exporters the integrations' scrape configs point at, running in the monitoring namespace.

labinfra.monitoring.integrations decides *what* is scraped and how often; this module runs
the processes those jobs name:

- `blackbox-exporter` (prom/blackbox-exporter): probes each integration's API as a client
  would. Its config holds the APIs' credentials, so it is a Secret; the lab CA is mounted
  from the `lab-ca` ConfigMap for TLS verification.
- `graphite-exporter` (prom/graphite-exporter): TrueNAS pushes Graphite plaintext to it;
  the mapping (infra/monitoring/graphite/truenas-mapping.yml) turns the lines into series.
  TrueNAS is outside the cluster, so the ingest port is a LoadBalancer Service (k3s
  ServiceLB) open only to TrueNAS's addresses (`loadBalancerSourceRanges`); the metrics
  port stays ClusterIP.
- `pve-exporter`: prometheus-pve-exporter and, in the same pod, the nginx cache of
  `pve_cache_nginx_conf`. The Service exposes only the cache, so every Prometheus replica
  is answered from one cache and the Proxmox API sees one collection per cache period.

Every pod meets the `restricted` Pod Security Standard: non-root, read-only root
filesystem, no privilege escalation, every capability dropped, RuntimeDefault seccomp.

Upstream facts each container relies on (read at the pinned tags):
- prometheus/blackbox_exporter v0.28.0 (5a059bee): Dockerfile (no USER, so the pod sets
  65534; ENTRYPOINT /bin/blackbox_exporter), main.go (`--config.file`,
  `--config.enable-auto-reload`, `/-/healthy`, web listen flag default :9115).
- prometheus/graphite_exporter v0.17.0 (5d5b6f68): Dockerfile (USER nobody, 9108 web,
  9109 tcp+udp ingest), cmd/graphite_exporter/main.go (`--graphite.mapping-config`,
  `--graphite.mapping-strict-match`, `--graphite.listen-address`, `/` landing page).
- Both publish `prom/<name>:v<version>` (Makefile.common DOCKER_REPO prom, promci
  publish_release on tags `v*`).
- nginx/docker-nginx-unprivileged @ e26803b: stable/alpine-slim/Dockerfile (NGINX_VERSION
  1.30.4, user 101), .github/workflows/alpine-stable.yml (tags
  `<major>.<minor>.<patch>-alpine-slim`).
- prometheus-pve/prometheus-pve-exporter v3.10.2 (its PyPI sdist, which carries the tag's
  tree): Dockerfile (USER prometheus, uid 101), src/pve_exporter/config.py
  (`config_from_env`: PVE_USER, PVE_TOKEN_NAME, PVE_TOKEN_VALUE, PVE_VERIFY_SSL),
  src/pve_exporter/cli.py (`--web.listen-address`, default `[::]:9221`); proxmoxer's
  requests session verifies against REQUESTS_CA_BUNDLE (as tests/integrations/test_proxmox.py
  runs the same version against fakepve with the lab CA).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import yaml

from labinfra.charts import (
    BLACKBOX_EXPORTER_IMAGE,
    GRAPHITE_EXPORTER_IMAGE,
    NGINX_UNPRIVILEGED_IMAGE,
    PVE_EXPORTER_IMAGE,
)
from labinfra.kube import child_options, restricted_container_security, secret
from labinfra.monitoring.integrations import (
    BLACKBOX_PORT,
    GRAPHITE_EXPORTER_INGEST_PORT,
    GRAPHITE_EXPORTER_WEB_PORT,
    LAB_CA_CONFIGMAP,
    PVE_CACHE_PORT,
    PVE_EXPORTER_PORT,
    Integrations,
    blackbox_config,
    plan,
    pve_cache_nginx_conf,
)
from labinfra.names import recommended_labels, selector_labels

LAB_CA_DIR = "/etc/lab-ca"
LAB_CA_FILE = f"{LAB_CA_DIR}/{LAB_CA_CONFIGMAP.key}"
"""Where the exporters find the lab CA (the `lab-ca` ConfigMap, mounted read-only)."""

BLACKBOX = "blackbox-exporter"
BLACKBOX_CONFIG_SECRET = "blackbox-exporter-config"  # noqa: S105 (a Secret's name)
GRAPHITE = "graphite-exporter"
GRAPHITE_INGEST = "graphite-exporter-ingest"
"""The LoadBalancer Service TrueNAS sends Graphite to (allow-listed in the policy pack)."""
GRAPHITE_MAPPING = "graphite-exporter-mapping"
PVE = "pve-exporter"
PVE_TOKEN_SECRET = "pve-exporter-token"  # noqa: S105 (a Secret's name)
PVE_CACHE_CONFIG = "pve-exporter-cache"
PVE_CACHE_RUNTIME = "/tmp/nginx"  # noqa: S108 (an emptyDir of the cache's own pod)

NOBODY = 65534
NGINX_UID = 101
"""The `nginx` user of nginx-unprivileged and the `prometheus` user of the pve-exporter image."""


@dataclass(frozen=True)
class ExporterSecrets:
    home_assistant_token: pulumi.Input[str] | None = None
    proxmox_token_value: pulumi.Input[str] | None = None
    truenas_api_key: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class IntegrationExportersArgs:
    namespace: str
    integrations: Integrations
    prometheus_replicas: int
    secrets: ExporterSecrets
    graphite_mapping: str | None = None
    """The graphite_exporter mapping file's text (required when TrueNAS is configured)."""
    truenas_cidrs: Sequence[str] = field(default_factory=list)
    """Where TrueNAS sends Graphite from: the ingest Service accepts only these."""


def blackbox_address(namespace: str) -> str:
    return f"{BLACKBOX}.{namespace}.svc:{BLACKBOX_PORT}"


def graphite_address(namespace: str) -> str:
    return f"{GRAPHITE}.{namespace}.svc:{GRAPHITE_EXPORTER_WEB_PORT}"


def pve_cache_address(namespace: str) -> str:
    """The cache in front of pve-exporter: what every Prometheus replica scrapes."""
    return f"{PVE}.{namespace}.svc:{PVE_CACHE_PORT}"


def _probe(path: str, port: str) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=port),
        period_seconds=10,
        timeout_seconds=3,
        failure_threshold=3,
    )


def _resources(cpu: str, memory: str, memory_limit: str) -> k8s.core.v1.ResourceRequirementsArgs:
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": cpu, "memory": memory}, limits={"cpu": "500m", "memory": memory_limit}
    )


class IntegrationExporters(pulumi.ComponentResource):
    """The blackbox exporter, graphite_exporter and pve-exporter with its cache, as the
    configured integrations need them (nothing when none is configured)."""

    def __init__(
        self,
        name: str,
        args: IntegrationExportersArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("lab:platform:IntegrationExporters", name, None, opts)
        self._name = name
        self._args = args
        # Children wait for what the component waits for (the namespace, the lab CA).
        self._opts = child_options(self, opts)
        configured = args.integrations.configured()
        if configured:
            self._blackbox()
        if args.integrations.truenas:
            self._graphite()
        if args.integrations.proxmox:
            self._pve()
        self.register_outputs({})

    # -- shared ---------------------------------------------------------------------------

    def _metadata(self, name: str, component: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=self._args.namespace,
            labels=recommended_labels(name, component),
        )

    def _deployment(
        self,
        app: str,
        version: str,
        containers: list[k8s.core.v1.ContainerArgs],
        volumes: list[k8s.core.v1.VolumeArgs],
        run_as_user: int,
        depends_on: list[pulumi.Resource],
    ) -> k8s.apps.v1.Deployment:
        labels = recommended_labels(app, "exporter", version=version)
        return k8s.apps.v1.Deployment(
            f"{self._name}-{app}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=app, namespace=self._args.namespace, labels=labels
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(app)),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        containers=containers,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=run_as_user,
                            run_as_group=run_as_user,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        volumes=volumes,
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                self._opts, pulumi.ResourceOptions(depends_on=depends_on)
            ),
        )

    def _service(
        self,
        resource: str,
        name: str,
        app: str,
        ports: Mapping[str, int],
        *,
        load_balancer_from: Sequence[str] = (),
    ) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            f"{self._name}-{resource}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name,
                namespace=self._args.namespace,
                labels=recommended_labels(app, "exporter", instance=name),
            ),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="LoadBalancer" if load_balancer_from else "ClusterIP",
                load_balancer_source_ranges=list(load_balancer_from) or None,
                selector=selector_labels(app),
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name=port_name, port=port, target_port=port_name, protocol="TCP"
                    )
                    for port_name, port in ports.items()
                ],
            ),
            opts=self._opts,
        )

    @staticmethod
    def _lab_ca_volume() -> tuple[k8s.core.v1.VolumeArgs, k8s.core.v1.VolumeMountArgs]:
        return (
            k8s.core.v1.VolumeArgs(
                name="lab-ca",
                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=LAB_CA_CONFIGMAP.secret),
            ),
            k8s.core.v1.VolumeMountArgs(name="lab-ca", mount_path=LAB_CA_DIR, read_only=True),
        )

    # -- blackbox exporter ----------------------------------------------------------------

    def _blackbox(self) -> None:
        a = self._args
        s = a.secrets
        inputs = [
            s.home_assistant_token or "",
            s.proxmox_token_value or "",
            s.truenas_api_key or "",
        ]

        def render(values: list[str]) -> str:
            ha, pve, nas = values
            config = blackbox_config(
                a.integrations,
                ca_file=LAB_CA_FILE,
                home_assistant_token=ha or None,
                proxmox_token=pve or None,
                truenas_api_key=nas or None,
            )
            return yaml.safe_dump(config, sort_keys=False)

        config = k8s.core.v1.Secret(
            f"{self._name}-blackbox-config",
            metadata=self._metadata(BLACKBOX_CONFIG_SECRET, "probe-credentials"),
            string_data={"blackbox.yml": secret(pulumi.Output.all(*inputs).apply(render))},
            opts=self._opts,
        )
        ca_volume, ca_mount = self._lab_ca_volume()
        version = BLACKBOX_EXPORTER_IMAGE.rsplit(":", 1)[1]
        self._deployment(
            BLACKBOX,
            version,
            [
                k8s.core.v1.ContainerArgs(
                    name=BLACKBOX,
                    image=BLACKBOX_EXPORTER_IMAGE,
                    args=[
                        "--config.file=/etc/blackbox/blackbox.yml",
                        # The Secret's volume follows edits (kubelet sync); the exporter
                        # reloads the file itself, so a rotated token needs no restart.
                        "--config.enable-auto-reload",
                        f"--web.listen-address=:{BLACKBOX_PORT}",
                    ],
                    ports=[
                        k8s.core.v1.ContainerPortArgs(name="http", container_port=BLACKBOX_PORT)
                    ],
                    liveness_probe=_probe("/-/healthy", "http"),
                    readiness_probe=_probe("/-/healthy", "http"),
                    resources=_resources("10m", "32Mi", "64Mi"),
                    security_context=restricted_container_security(),
                    volume_mounts=[
                        k8s.core.v1.VolumeMountArgs(
                            name="config", mount_path="/etc/blackbox", read_only=True
                        ),
                        ca_mount,
                    ],
                )
            ],
            [
                k8s.core.v1.VolumeArgs(
                    name="config",
                    secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=BLACKBOX_CONFIG_SECRET),
                ),
                ca_volume,
            ],
            NOBODY,
            [config],
        )
        self._service("blackbox-service", BLACKBOX, BLACKBOX, {"http": BLACKBOX_PORT})

    # -- graphite exporter (TrueNAS) --------------------------------------------------------

    def _graphite(self) -> None:
        a = self._args
        if not a.graphite_mapping:
            raise ValueError("truenas is configured but the graphite mapping file is not")
        if not a.truenas_cidrs:
            raise ValueError("truenas is configured but not the addresses it sends Graphite from")
        mapping = k8s.core.v1.ConfigMap(
            f"{self._name}-graphite-mapping",
            metadata=self._metadata(GRAPHITE_MAPPING, "exporter-config"),
            data={"truenas-mapping.yml": a.graphite_mapping},
            opts=self._opts,
        )
        version = GRAPHITE_EXPORTER_IMAGE.rsplit(":", 1)[1]
        self._deployment(
            GRAPHITE,
            version,
            [
                k8s.core.v1.ContainerArgs(
                    name=GRAPHITE,
                    image=GRAPHITE_EXPORTER_IMAGE,
                    args=[
                        "--graphite.mapping-config=/etc/graphite/truenas-mapping.yml",
                        # Unmapped paths are dropped: each would become a series of its own.
                        "--graphite.mapping-strict-match",
                        f"--graphite.listen-address=:{GRAPHITE_EXPORTER_INGEST_PORT}",
                        f"--web.listen-address=:{GRAPHITE_EXPORTER_WEB_PORT}",
                    ],
                    ports=[
                        k8s.core.v1.ContainerPortArgs(
                            name="http", container_port=GRAPHITE_EXPORTER_WEB_PORT
                        ),
                        k8s.core.v1.ContainerPortArgs(
                            name="graphite", container_port=GRAPHITE_EXPORTER_INGEST_PORT
                        ),
                    ],
                    liveness_probe=_probe("/", "http"),
                    readiness_probe=_probe("/", "http"),
                    resources=_resources("10m", "32Mi", "128Mi"),
                    security_context=restricted_container_security(),
                    volume_mounts=[
                        k8s.core.v1.VolumeMountArgs(
                            name="mapping", mount_path="/etc/graphite", read_only=True
                        )
                    ],
                )
            ],
            [
                k8s.core.v1.VolumeArgs(
                    name="mapping",
                    config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=GRAPHITE_MAPPING),
                )
            ],
            NOBODY,
            [mapping],
        )
        self._service("graphite-service", GRAPHITE, GRAPHITE, {"http": GRAPHITE_EXPORTER_WEB_PORT})
        self._service(
            "graphite-ingest-service",
            GRAPHITE_INGEST,
            GRAPHITE,
            {"graphite": GRAPHITE_EXPORTER_INGEST_PORT},
            load_balancer_from=a.truenas_cidrs,
        )

    # -- pve-exporter behind its cache ----------------------------------------------------

    def _pve(self) -> None:
        a = self._args
        proxmox = a.integrations.proxmox
        assert proxmox is not None
        if a.secrets.proxmox_token_value is None:
            raise ValueError("proxmox is configured but its API token is not")
        cache_seconds = plan(a.integrations, a.prometheus_replicas)["proxmox"].cache_seconds
        assert cache_seconds is not None
        token = k8s.core.v1.Secret(
            f"{self._name}-pve-token",
            metadata=self._metadata(PVE_TOKEN_SECRET, "scrape-credentials"),
            string_data={"token": secret(a.secrets.proxmox_token_value)},
            opts=self._opts,
        )
        cache_config = k8s.core.v1.ConfigMap(
            f"{self._name}-pve-cache-config",
            metadata=self._metadata(PVE_CACHE_CONFIG, "exporter-config"),
            data={
                "nginx.conf": pve_cache_nginx_conf(
                    cache_seconds=cache_seconds,
                    listen=str(PVE_CACHE_PORT),
                    # The exporter is in the same pod: only the cache talks to it.
                    upstream=f"127.0.0.1:{PVE_EXPORTER_PORT}",
                    runtime_dir=PVE_CACHE_RUNTIME,
                )
            },
            opts=self._opts,
        )
        ca_volume, ca_mount = self._lab_ca_volume()
        env = {
            "PVE_USER": proxmox.user,
            "PVE_TOKEN_NAME": proxmox.token_name,
            "PVE_VERIFY_SSL": "true" if proxmox.verify_tls else "false",
            "REQUESTS_CA_BUNDLE": LAB_CA_FILE,
        }
        exporter = k8s.core.v1.ContainerArgs(
            name=PVE,
            image=PVE_EXPORTER_IMAGE,
            args=[f"--web.listen-address=0.0.0.0:{PVE_EXPORTER_PORT}"],
            env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())]
            + [
                k8s.core.v1.EnvVarArgs(
                    name="PVE_TOKEN_VALUE",
                    value_from=k8s.core.v1.EnvVarSourceArgs(
                        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                            name=PVE_TOKEN_SECRET, key="token"
                        )
                    ),
                )
            ],
            ports=[
                k8s.core.v1.ContainerPortArgs(name="exporter", container_port=PVE_EXPORTER_PORT)
            ],
            liveness_probe=_probe("/", "exporter"),
            readiness_probe=_probe("/", "exporter"),
            resources=_resources("20m", "64Mi", "256Mi"),
            security_context=restricted_container_security(),
            volume_mounts=[ca_mount],
        )
        cache = k8s.core.v1.ContainerArgs(
            name="cache",
            image=NGINX_UNPRIVILEGED_IMAGE,
            # nginx itself, not the image's entrypoint (whose scripts rewrite files under
            # /etc/nginx, which is read-only here); errors to stderr before the config loads.
            command=["nginx", "-e", "stderr", "-c", "/etc/pve-cache/nginx.conf"],
            args=["-g", "daemon off;"],
            ports=[k8s.core.v1.ContainerPortArgs(name="cache", container_port=PVE_CACHE_PORT)],
            liveness_probe=_probe("/healthz", "cache"),
            readiness_probe=_probe("/healthz", "cache"),
            resources=_resources("10m", "16Mi", "96Mi"),
            security_context=restricted_container_security(),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(
                    name="cache-config", mount_path="/etc/pve-cache", read_only=True
                ),
                k8s.core.v1.VolumeMountArgs(name="cache-runtime", mount_path=PVE_CACHE_RUNTIME),
            ],
        )
        self._deployment(
            PVE,
            PVE_EXPORTER_IMAGE.rsplit(":", 1)[1],
            [exporter, cache],
            [
                ca_volume,
                k8s.core.v1.VolumeArgs(
                    name="cache-config",
                    config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=PVE_CACHE_CONFIG),
                ),
                k8s.core.v1.VolumeArgs(
                    name="cache-runtime",
                    # proxy_cache_path max_size=64m, plus temp files and the pid file.
                    empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="96Mi"),
                ),
            ],
            # Both images' unprivileged user is 101 (nginx, prometheus).
            NGINX_UID,
            [token, cache_config],
        )
        # Only the cache is a Service port: nothing in the cluster bypasses it.
        self._service("pve-service", PVE, PVE, {"cache": PVE_CACHE_PORT})
