"""What one pull request's environment consists of, as Kubernetes manifests (pure: no Pulumi).

`plan(config, context)` returns every object the preview stack creates except the values
of secrets (those are Pulumi secrets, filled in by `labpreview.program`). Keeping this pure
lets the quota be computed from the very pod specs it must admit, and lets tests read the
plan without a Pulumi run.

Facts from the original (genesluna/k8s-ephemeral-environments @ddd901c) kept for its users:
namespace name, labels and annotations (`.github/actions/create-namespace/action.yml`), the
LimitRange values and the NetworkPolicy set (same file), the injected variables
(`charts/k8s-ee-app/templates/configmap.yaml` and the database charts' helpers), the
database defaults (charts/*/values.yaml). What we do differently, and why, is said where
it happens: databases on PVCs, the app waiting for each database with that database's own
client, egress to private networks denied, selectors of the ingress controller and
Prometheus taken from config instead of hard-coded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from labpreview import naming as n
from labpreview import urls
from labpreview.config import AppSpec, Database, PreviewConfig, Resources

Manifest = dict[str, Any]

IMAGES = {
    # CloudNativePG's operand images, as the original uses them (charts/postgresql
    # templates/cluster.yaml: ghcr.io/cloudnative-pg/postgresql:<version>).
    "postgresql": "ghcr.io/cloudnative-pg/postgresql",
    "mariadb": "docker.io/library/mariadb",
    "mongodb": "docker.io/library/mongo",
    "redis": "docker.io/library/redis",
    "minio": "quay.io/minio/minio",
}
FIXED_TAGS = {
    # Images whose version k8s-ee.yaml cannot choose; full tags, so an image does not move
    # under a running preview. Not pinned by digest: no upstream source available here lists
    # their digests (docker-library/repo-info, which does for library images, could not be
    # fetched; Docker Hub and quay.io cannot be reached).
    #
    # Redis 7.4 as the original (charts/redis/values.yaml `version: "7.4"`), at its latest
    # patch: docker-library/official-images library/redis at 37079fb3 (2026-08-21) lists
    # `7.4.11-alpine` (redis/docker-library-redis v7.4.11, commit 74654c61, "Redis security
    # release 2026-08-18"). 7.4.2-alpine, pinned before, is the January 2025 release
    # (official-images 171c4662) that the later 7.4.x security releases replace. The
    # alpine image runs redis-server as uid 999 (alpine/Dockerfile `adduser -u 999 redis`).
    "redis": "7.4.11-alpine",
    # minio/minio tag RELEASE.2025-04-22T22-12-26Z (commit 0d7408fc); its Dockerfile.release
    # at that tag puts `mc` and a static `curl` in the image (the bucket Job and the app's
    # wait use both) and publishes to quay.io/minio/minio. MinIO's community edition went
    # source-only at RELEASE.2025-10-15T17-29-55Z and the repository is no longer
    # maintained (README at 7aac2a2c, 2026-02-12): no newer image is confirmed upstream.
    "minio": "RELEASE.2025-04-22T22-12-26Z",
}
UIDS = {"postgresql": 26, "mariadb": 999, "mongodb": 999, "redis": 999, "minio": 1000}
"""Users the images run their servers as (postgres in CloudNativePG's images is 26; the
Docker library images' mysql/mongodb/redis users are 999)."""

DATABASE_RESOURCES = {
    # requests / limits per database container (the original's charts/*/values.yaml)
    "postgresql": Resources("100m", "256Mi", "500m", "512Mi"),
    "mariadb": Resources("50m", "128Mi", "300m", "256Mi"),
    "mongodb": Resources("100m", "256Mi", "500m", "512Mi"),
    "redis": Resources("50m", "64Mi", "200m", "128Mi"),
    "minio": Resources("100m", "256Mi", "500m", "512Mi"),
}
WAIT_RESOURCES = Resources("10m", "32Mi", "100m", "128Mi")

PRIVATE_RANGES = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
)
"""RFC 1918, carrier-grade NAT (RFC 6598) and link-local: the lab's networks, the cluster's
pod and service ranges, and cloud metadata addresses are never reachable from a preview."""


@dataclass(frozen=True)
class Context:
    """Everything about this pull request and this lab that is not in k8s-ee.yaml."""

    pr: int
    branch: str
    commit: str
    repository: str
    domain: str
    registry: str
    created_at: datetime
    deployed_at: datetime
    storage_class: str | None = None
    ingress_class: str = "traefik"
    ingress_namespace: str = "kube-system"
    ingress_pod_labels: Mapping[str, str] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "traefik"}
    )
    prometheus_namespace: str = "monitoring"
    prometheus_pod_labels: Mapping[str, str] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"}
    )
    dns_namespace: str = "kube-system"
    dns_pod_labels: Mapping[str, str] = field(default_factory=lambda: {"k8s-app": "kube-dns"})
    api_server_cidrs: tuple[str, ...] = ()
    cnpg_namespace: str = "cnpg-system"
    tls_secret: str = "preview-tls"
    pull_secret: str = "registry-pull"


@dataclass
class Plan:
    namespace: str
    objects: list[Manifest]
    secrets: dict[str, list[str]]
    """Secret name -> the keys it holds (values come from the program)."""
    images: dict[str, str]
    """App name -> image reference."""
    urls: dict[str, str]
    """App name -> https URL (apps with an Ingress)."""

    def of_kind(self, kind: str) -> list[Manifest]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> Manifest:
        for o in self.objects:
            if o["kind"] == kind and o["metadata"]["name"] == name:
                return o
        raise KeyError(f"{kind}/{name}")


# --- names and labels ------------------------------------------------------------------


def image_for(app: AppSpec, config: PreviewConfig, context: Context) -> str:
    """The image built for this commit: the config's repository, or one in the lab registry
    named after the build (context + Dockerfile), so apps built from the same Dockerfile
    share one image."""
    if app.image.repository:
        return f"{app.image.repository}:{context.commit}"
    return f"{context.registry}/previews/{config.project_id}/{build_slug(app)}:{context.commit}"


def build_slug(app: AppSpec) -> str:
    path = f"{app.image.context}/{app.image.dockerfile}".lower()
    slug = re.sub(r"[^a-z0-9]+", "-", path).strip("-")
    return slug[:100] or "image"


def _labels(config: PreviewConfig, context: Context, name: str, component: str) -> dict[str, str]:
    namespace = n.namespace_name(config.project_id, context.pr)
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": namespace,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": config.project_id,
        n.LABEL_MANAGED_BY: n.MANAGED_BY,
        n.LABEL_PROJECT: config.project_id,
        n.LABEL_PR: str(context.pr),
    }


def _selector(name: str, namespace: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": namespace}


def _meta(name: str, namespace: str, labels: Mapping[str, str], **extra: Any) -> Manifest:
    return {"name": name, "namespace": namespace, "labels": dict(labels), **extra}


# --- containers ------------------------------------------------------------------------


def _resources(r: Resources) -> Manifest:
    return {
        "requests": {"cpu": r.cpu_request, "memory": r.memory_request},
        "limits": {"cpu": r.cpu_limit, "memory": r.memory_limit},
    }


def _restricted(uid: int | None = None, read_only: bool = True) -> Manifest:
    """A container security context that meets Pod Security `restricted`."""
    context: Manifest = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": read_only,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if uid is not None:
        context["runAsUser"] = uid
        context["runAsGroup"] = uid
    return context


def _pod_security(uid: int | None = None) -> Manifest:
    context: Manifest = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if uid is not None:
        context.update({"runAsUser": uid, "runAsGroup": uid, "fsGroup": uid})
    return context


def _secret_env(secret: str, keys: Sequence[str]) -> list[Manifest]:
    return [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}} for key in keys
    ]


def _db_image(db: Database) -> str:
    tag = FIXED_TAGS.get(db.kind, db.version)
    return f"{IMAGES[db.kind]}:{tag}"


_WAIT = {
    # Each database is awaited with its own client, which proves it answers queries, not
    # just that the port is open (the original's init containers do the same: pg_isready,
    # mariadb-admin ping, mongosh ping, redis-cli ping, MinIO's health endpoint).
    "postgresql": 'pg_isready -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$PGDATABASE" -t 2',
    "mariadb": 'mariadb-admin ping -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" --silent',
    "mongodb": 'mongosh "$MONGODB_URL" --quiet --eval "db.runCommand({ ping: 1 }).ok"',
    "redis": 'redis-cli -u "$REDIS_URL" ping | grep -q PONG',
    "minio": 'curl -sf "$S3_ENDPOINT/minio/health/ready"',
}
_WAIT_ENV = {
    "postgresql": ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"],
    "mariadb": ["MYSQL_HOST", "MYSQL_PORT", "MYSQL_USER", "MYSQL_PASSWORD"],
    "mongodb": ["MONGODB_URL"],
    "redis": ["REDIS_URL"],
    "minio": ["S3_ENDPOINT"],
}
WAIT_SECONDS = 300


def _wait_containers(config: PreviewConfig) -> list[Manifest]:
    """Init containers that hold the app until every database answers (the original's
    ~1 % of first deploys failed because the app started first: .planning CONCERNS.md)."""
    containers = []
    for kind, db in config.databases.items():
        env = _secret_env(ENV_SECRET, _WAIT_ENV[kind])
        if kind == "mariadb":
            # mariadb-admin reads the password from MYSQL_PWD, never from its arguments.
            env.append(
                {
                    "name": "MYSQL_PWD",
                    "valueFrom": {"secretKeyRef": {"name": ENV_SECRET, "key": "MYSQL_PASSWORD"}},
                }
            )
        script = (
            f"deadline=$(( $(date +%s) + {WAIT_SECONDS} )); "
            f"until {_WAIT[kind]}; do "
            f'if [ "$(date +%s)" -ge "$deadline" ]; then echo "{kind} did not answer"; exit 1; fi; '
            f'echo "waiting for {kind}"; sleep 2; done'
        )
        containers.append(
            {
                "name": f"wait-for-{kind}",
                "image": _db_image(db),
                "command": ["sh", "-c", script],
                "env": env,
                "resources": _resources(WAIT_RESOURCES),
                "securityContext": _restricted(UIDS[kind]),
            }
        )
    return containers


ENV_SECRET = "preview-env"
"""The Secret with every database variable the apps receive."""


def env_secret_keys(config: PreviewConfig) -> list[str]:
    keys: list[str] = []
    for kind in config.databases:
        keys.extend(urls.database_variables(kind, "x", "x"))
    return keys


def _app_env(app: AppSpec, config: PreviewConfig, context: Context, url: str) -> list[Manifest]:
    """The variables the original injects (charts/k8s-ee-app configmap + deployment), then
    the app's own `env` (which may override none of the injected ones)."""
    env: dict[str, str] = {
        "PORT": str(app.port),
        "PR_NUMBER": str(context.pr),
        "COMMIT_SHA": context.commit,
        "BRANCH_NAME": context.branch,
        "APP_VERSION": context.commit,
        "PREVIEW_URL": url,
    }
    if "mariadb" in config.databases:
        env["DATABASE_TYPE"] = "mariadb"
    elif "postgresql" in config.databases:
        env["DATABASE_TYPE"] = "postgresql"
    result = [{"name": k, "value": v} for k, v in env.items()]
    result += [{"name": k, "value": v} for k, v in sorted(app.env.items()) if k not in env]
    result += _secret_env(ENV_SECRET, env_secret_keys(config))
    return result


def _probe(path: str, **timing: int) -> Manifest:
    return {"httpGet": {"path": path, "port": "http"}, **timing}


def _app_workload(
    app: AppSpec, config: PreviewConfig, context: Context, namespace: str, url: str
) -> list[Manifest]:
    labels = _labels(config, context, app.name, "app")
    selector = _selector(app.name, namespace)
    container: Manifest = {
        "name": app.name,
        "image": image_for(app, config, context),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": app.port, "protocol": "TCP"}],
        "env": _app_env(app, config, context, url),
        "resources": _resources(app.resources),
        "securityContext": _restricted(),
        # Probe timings: the original's chart values (charts/k8s-ee-app/values.yaml).
        "startupProbe": _probe(app.health_path, periodSeconds=2, failureThreshold=60),
        "livenessProbe": _probe(app.health_path, periodSeconds=10, timeoutSeconds=5),
        "readinessProbe": _probe(app.health_path, periodSeconds=5, timeoutSeconds=3),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    }
    if app.command:
        container["command"] = list(app.command)
    if app.args:
        container["args"] = list(app.args)
    if app.name == "app" and config.env_from:
        container["envFrom"] = [{e.kind: {"name": e.name}} for e in config.env_from]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(
            app.name,
            namespace,
            labels,
            # The janitor scales sleeping environments to zero; the next deploy takes the
            # replicas field back (pulumi-kubernetes: patchForce resolves SSA conflicts).
            annotations={"pulumi.com/patchForce": "true"},
        ),
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": _pod_security(),
                    "imagePullSecrets": [{"name": context.pull_secret}],
                    "initContainers": _wait_containers(config),
                    "containers": [container],
                    "terminationGracePeriodSeconds": 30,
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(app.name, namespace, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": app.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    objects = [deployment, service]
    if app.metrics.enabled:
        objects.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": _meta(app.name, namespace, labels),
                "spec": {
                    "selector": {"matchLabels": selector},
                    "namespaceSelector": {"matchNames": [namespace]},
                    "endpoints": [
                        {
                            "port": "http",
                            "path": app.metrics_path or "/metrics",
                            "interval": app.metrics.interval,
                            "scrapeTimeout": "10s",
                        }
                    ],
                },
            }
        )
    return objects


def _ingress(
    apps: Sequence[AppSpec], config: PreviewConfig, context: Context, namespace: str
) -> Manifest:
    hosts = {a.name: n.app_host(a.name, namespace, context.domain) for a in apps}
    annotations = {
        # k3s's Traefik serves routes on its TLS entrypoint when this is set.
        "traefik.ingress.kubernetes.io/router.tls": "true",
        **config.ingress_annotations,
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(
            "preview",
            namespace,
            _labels(config, context, "preview", "ingress"),
            annotations=annotations,
        ),
        "spec": {
            "ingressClassName": context.ingress_class,
            "tls": [{"hosts": sorted(hosts.values()), "secretName": context.tls_secret}],
            "rules": [
                {
                    "host": hosts[a.name],
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": a.name, "port": {"name": "http"}}},
                            }
                        ]
                    },
                }
                for a in apps
            ],
        },
    }


# --- databases -------------------------------------------------------------------------


def credential_secret(kind: str) -> str:
    return f"{kind}-credentials"


def _pvc_template(db: Database, context: Context) -> Manifest:
    spec: Manifest = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": db.storage}},
    }
    if context.storage_class:
        spec["storageClassName"] = context.storage_class
    return {"metadata": {"name": "data"}, "spec": spec}


_SERVERS: dict[str, Manifest] = {
    "mariadb": {
        "args": ["--max-connections=20", "--innodb-buffer-pool-size=64M"],
        "env": [
            ("MARIADB_ROOT_PASSWORD", "root-password"),
            ("MARIADB_PASSWORD", "password"),
        ],
        "plain_env": {"MARIADB_DATABASE": urls.DATABASE, "MARIADB_USER": urls.USER},
        "data": "/var/lib/mysql",
        "scratch": ["/run/mysqld", "/tmp"],  # noqa: S108
    },
    "mongodb": {
        "args": ["--bind_ip_all"],
        "env": [("MONGO_INITDB_ROOT_PASSWORD", "password")],
        "plain_env": {"MONGO_INITDB_ROOT_USERNAME": urls.USER, "MONGO_INITDB_DATABASE": "app"},
        "data": "/data/db",
        "scratch": ["/tmp", "/data/configdb"],  # noqa: S108
    },
    "redis": {
        "command": ["sh", "-c"],
        "args": [
            'exec redis-server --requirepass "$REDIS_PASSWORD" --appendonly yes --dir /data '
            "--maxmemory 100mb --maxmemory-policy allkeys-lru"
        ],
        "env": [("REDIS_PASSWORD", "password")],
        "plain_env": {},
        "data": "/data",
        "scratch": ["/tmp"],  # noqa: S108
    },
    "minio": {
        "args": ["server", "/data", "--console-address", ":9001"],
        "env": [("MINIO_ROOT_USER", "access-key"), ("MINIO_ROOT_PASSWORD", "secret-key")],
        "plain_env": {},
        "data": "/data",
        "scratch": ["/tmp", "/.minio"],  # noqa: S108
    },
}


def _stateful_database(
    db: Database, config: PreviewConfig, context: Context, namespace: str
) -> list[Manifest]:
    """MariaDB, MongoDB, Redis, MinIO: a StatefulSet whose data lives on a PVC for as long
    as the environment does (the original ran MariaDB on emptyDir and lost its data on any
    restart: .planning CONCERNS.md "MariaDB EmptyDir Data Loss")."""
    kind = db.kind
    server = _SERVERS[kind]
    labels = _labels(config, context, kind, "database")
    selector = _selector(kind, namespace)
    port = urls.PORTS[kind]
    secret = credential_secret(kind)
    env = [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for name, key in server["env"]
    ] + [{"name": k, "value": v} for k, v in server["plain_env"].items()]
    mounts = [{"name": "data", "mountPath": server["data"]}] + [
        {"name": f"scratch-{i}", "mountPath": path} for i, path in enumerate(server["scratch"])
    ]
    container: Manifest = {
        "name": kind,
        "image": _db_image(db),
        "imagePullPolicy": "IfNotPresent",
        "args": list(server["args"]),
        "env": env,
        "ports": [{"name": kind, "containerPort": port, "protocol": "TCP"}],
        "resources": _resources(DATABASE_RESOURCES[kind]),
        "securityContext": _restricted(UIDS[kind]),
        "volumeMounts": mounts,
        # TCP probes: no password in a probe's command line (the original does the same).
        "startupProbe": {"tcpSocket": {"port": kind}, "periodSeconds": 2, "failureThreshold": 90},
        "livenessProbe": {"tcpSocket": {"port": kind}, "periodSeconds": 10},
        "readinessProbe": {"tcpSocket": {"port": kind}, "periodSeconds": 5},
    }
    if "command" in server:
        container["command"] = list(server["command"])
    stateful = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(kind, namespace, labels, annotations={"pulumi.com/patchForce": "true"}),
        "spec": {
            "replicas": 1,
            "serviceName": kind,
            "selector": {"matchLabels": selector},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Delete",
                "whenScaled": "Retain",
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": _pod_security(UIDS[kind]),
                    "containers": [container],
                    "volumes": [
                        {"name": f"scratch-{i}", "emptyDir": {"sizeLimit": "64Mi"}}
                        for i in range(len(server["scratch"]))
                    ],
                },
            },
            "volumeClaimTemplates": [_pvc_template(db, context)],
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(kind, namespace, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": kind, "port": port, "targetPort": kind, "protocol": "TCP"}],
        },
    }
    objects = [stateful, service]
    if kind == "minio":
        objects.append(_minio_bucket_job(db, config, context, namespace))
    return objects


def _minio_bucket_job(
    db: Database, config: PreviewConfig, context: Context, namespace: str
) -> Manifest:
    """Creates the bucket once MinIO answers (mc ships in the MinIO image)."""
    labels = _labels(config, context, "minio-bucket", "database")
    script = (
        "until curl -sf http://minio:9000/minio/health/ready; do sleep 2; done; "
        'mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" '
        f"&& mc mb --ignore-existing local/{urls.BUCKET}"
    )
    secret = credential_secret("minio")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta("minio-bucket", namespace, labels),
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 600,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "securityContext": _pod_security(UIDS["minio"]),
                    "containers": [
                        {
                            "name": "mc",
                            "image": _db_image(db),
                            "command": ["sh", "-c", script],
                            "env": [
                                {
                                    "name": "MINIO_ROOT_USER",
                                    "valueFrom": {
                                        "secretKeyRef": {"name": secret, "key": "access-key"}
                                    },
                                },
                                {
                                    "name": "MINIO_ROOT_PASSWORD",
                                    "valueFrom": {
                                        "secretKeyRef": {"name": secret, "key": "secret-key"}
                                    },
                                },
                                # mc keeps its aliases under $HOME: somewhere writable.
                                {"name": "HOME", "value": "/tmp"},  # noqa: S108
                            ],
                            "resources": _resources(WAIT_RESOURCES),
                            "securityContext": _restricted(UIDS["minio"]),
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                },
            },
        },
    }


def _postgresql_cluster(
    db: Database, config: PreviewConfig, context: Context, namespace: str
) -> Manifest:
    """A CloudNativePG Cluster (postgresql.cnpg.io/v1) of one instance.

    The application user's password comes from our Secret (`bootstrap.initdb.secret`, a
    `kubernetes.io/basic-auth` Secret with `username` and `password`), so it is a Pulumi
    secret we generated and the DATABASE_URL we inject matches it. Fields per the vendored
    CRD (cloudnative-pg config/crd/bases @a95a534d); values per the original's
    charts/postgresql (parameters, startDelay, no superuser access).
    """
    initdb: Manifest = {
        "database": urls.DATABASE,
        "owner": urls.USER,
        "secret": {"name": credential_secret("postgresql")},
    }
    if db.init_sql:
        initdb["postInitSQL"] = list(db.init_sql)
    if db.post_init_application_sql:
        initdb["postInitApplicationSQL"] = list(db.post_init_application_sql)
    storage: Manifest = {"size": db.storage}
    if context.storage_class:
        storage["storageClass"] = context.storage_class
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": _meta(
            "postgresql",
            namespace,
            _labels(config, context, "postgresql", "database"),
            # Woken on every deploy: the janitor hibernates sleeping environments.
            annotations={"cnpg.io/hibernation": "off", "pulumi.com/patchForce": "true"},
        ),
        "spec": {
            "instances": 1,
            "imageName": _db_image(db),
            "primaryUpdateStrategy": "unsupervised",
            "enableSuperuserAccess": False,
            "startDelay": 300,
            "storage": storage,
            "resources": _resources(DATABASE_RESOURCES["postgresql"]),
            "postgresql": {
                "parameters": {
                    "shared_buffers": "128MB",
                    "effective_cache_size": "256MB",
                    "work_mem": "4MB",
                    "maintenance_work_mem": "64MB",
                    "max_connections": "20",
                    "log_statement": "ddl",
                    "log_min_duration_statement": "1000",
                }
            },
            "bootstrap": {"initdb": initdb},
            "monitoring": {"enablePodMonitor": False},
        },
    }


# --- the namespace and its guard rails ---------------------------------------------------


def _namespace(config: PreviewConfig, context: Context, namespace: str) -> Manifest:
    labels = {
        **_labels(config, context, namespace, "preview-environment"),
        n.LABEL_TYPE: n.TYPE_EPHEMERAL,
        n.LABEL_BRANCH: n.sanitize_branch(context.branch),
        n.LABEL_COMMIT: context.commit,
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }
    expires = context.deployed_at + timedelta(hours=config.lifetime.ttl_hours)
    annotations = {
        n.ANNOTATION_CREATED: _time(context.created_at),
        n.ANNOTATION_UPDATED: _time(context.deployed_at),
        n.ANNOTATION_REPOSITORY: context.repository,
        n.ANNOTATION_EXPIRES: _time(expires),
        "k8s-ee/created-by": "lab-preview",
    }
    if config.lifetime.sleep_after_hours:
        annotations[n.ANNOTATION_SLEEP_AFTER_HOURS] = str(config.lifetime.sleep_after_hours)
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": labels, "annotations": annotations},
    }


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _limit_range(config: PreviewConfig, context: Context, namespace: str) -> Manifest:
    """The original's LimitRange (create-namespace/action.yml) unchanged."""
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta(
            "preview-limits", namespace, _labels(config, context, "limits", "policy")
        ),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": "500m", "memory": "512Mi"},
                    "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                    "max": {"cpu": "1", "memory": "1Gi"},
                    "min": {"cpu": "10m", "memory": "32Mi"},
                },
                {"type": "Pod", "max": {"cpu": "2", "memory": "2Gi"}},
                {
                    "type": "PersistentVolumeClaim",
                    "max": {"storage": "5Gi"},
                    "min": {"storage": "100Mi"},
                },
            ]
        },
    }


def _netpol(
    name: str, config: PreviewConfig, context: Context, namespace: str, spec: Manifest
) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, namespace, _labels(config, context, name, "network-policy")),
        "spec": spec,
    }


def _ns_peer(namespace: str, pods: Mapping[str, str]) -> Manifest:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "podSelector": {"matchLabels": dict(pods)},
    }


def _network_policies(config: PreviewConfig, context: Context, namespace: str) -> list[Manifest]:
    """Deny by default; then exactly what each part needs (NetworkPolicies add up)."""
    policies = [
        _netpol(
            "default-deny",
            config,
            context,
            namespace,
            {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        ),
        _netpol(
            "allow-same-namespace",
            config,
            context,
            namespace,
            {
                "podSelector": {},
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [{"to": [{"podSelector": {}}]}],
                "policyTypes": ["Ingress", "Egress"],
            },
        ),
        _netpol(
            "allow-dns",
            config,
            context,
            namespace,
            {
                "podSelector": {},
                "egress": [
                    {
                        "to": [_ns_peer(context.dns_namespace, context.dns_pod_labels)],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
                "policyTypes": ["Egress"],
            },
        ),
        _netpol(
            "allow-internet-egress",
            config,
            context,
            namespace,
            {
                "podSelector": {},
                "egress": [
                    {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}]}
                ],
                "policyTypes": ["Egress"],
            },
        ),
    ]
    served = [a for a in config.all_apps() if config.ingress_enabled and a.ingress]
    if served:
        policies.append(
            _netpol(
                "allow-ingress-controller",
                config,
                context,
                namespace,
                {
                    "podSelector": {
                        "matchExpressions": [
                            {
                                "key": "app.kubernetes.io/name",
                                "operator": "In",
                                "values": sorted(a.name for a in served),
                            }
                        ]
                    },
                    "ingress": [
                        {
                            "from": [
                                _ns_peer(context.ingress_namespace, context.ingress_pod_labels)
                            ],
                            "ports": sorted(
                                ({"protocol": "TCP", "port": a.port} for a in served),
                                key=lambda p: int(p["port"]),
                            ),
                        }
                    ],
                    "policyTypes": ["Ingress"],
                },
            )
        )
    scraped = [a for a in config.all_apps() if a.metrics.enabled]
    if scraped:
        policies.append(
            _netpol(
                "allow-prometheus",
                config,
                context,
                namespace,
                {
                    "podSelector": {
                        "matchExpressions": [
                            {
                                "key": "app.kubernetes.io/name",
                                "operator": "In",
                                "values": sorted(a.name for a in scraped),
                            }
                        ]
                    },
                    "ingress": [
                        {
                            "from": [
                                _ns_peer(
                                    context.prometheus_namespace, context.prometheus_pod_labels
                                )
                            ],
                            "ports": sorted(
                                ({"protocol": "TCP", "port": a.port} for a in scraped),
                                key=lambda p: int(p["port"]),
                            ),
                        }
                    ],
                    "policyTypes": ["Ingress"],
                },
            )
        )
    if "postgresql" in config.databases:
        # CloudNativePG's instance manager talks to the API server, and the operator polls
        # each instance on its status port (8000) and connects on 5432: only these pods get
        # the API server, nothing else in the namespace does.
        cnpg_pods = {"matchLabels": {"cnpg.io/cluster": "postgresql"}}
        policies.append(
            _netpol(
                "allow-postgresql-operator",
                config,
                context,
                namespace,
                {
                    "podSelector": cnpg_pods,
                    "ingress": [
                        {
                            "from": [
                                {
                                    "namespaceSelector": {
                                        "matchLabels": {
                                            "kubernetes.io/metadata.name": context.cnpg_namespace
                                        }
                                    }
                                }
                            ],
                            "ports": [
                                {"protocol": "TCP", "port": 8000},
                                {"protocol": "TCP", "port": 5432},
                            ],
                        }
                    ],
                    "egress": [
                        {
                            "to": [
                                {"ipBlock": {"cidr": cidr}} for cidr in context.api_server_cidrs
                            ],
                            "ports": [{"protocol": "TCP", "port": 6443}],
                        }
                    ]
                    if context.api_server_cidrs
                    else [],
                    "policyTypes": ["Ingress", "Egress"],
                },
            )
        )
    return policies


# --- the quota, from the pods it must admit ------------------------------------------------


def _cpu(text: str) -> int:
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def _mem(text: str) -> int:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return math.ceil(int(text[: -len(suffix)]) * factor)
    return math.ceil(int(text) / (1024 * 1024))


def pod_totals(pod_spec: Manifest) -> dict[str, int]:
    """A pod's effective requests and limits (Kubernetes: the larger of the sum of its
    containers and the largest init container), in millicores and MiB."""
    totals = {}
    for kind, parse, key in (
        ("requests", _cpu, "cpu"),
        ("requests", _mem, "memory"),
        ("limits", _cpu, "cpu"),
        ("limits", _mem, "memory"),
    ):
        main = sum(parse(c["resources"][kind][key]) for c in pod_spec.get("containers", []))
        init = max(
            (parse(c["resources"][kind][key]) for c in pod_spec.get("initContainers", [])),
            default=0,
        )
        totals[f"{kind}.{key}"] = max(main, init)
    return totals


CNPG_SERVICES = 3
"""CloudNativePG makes -rw, -ro and -r Services per Cluster (the original counts 3 too)."""
CNPG_JOB_PODS = 1
"""The initdb Job's pod runs before the instance pod."""


def _quota(
    objects: list[Manifest], config: PreviewConfig, context: Context, namespace: str
) -> Manifest:
    """Sized from the objects themselves: every pod at its effective requests and limits,
    one extra pod of each app for a rolling update (maxSurge 1), CloudNativePG's instance
    (its resources) plus its initdb pod, every PVC; limits get 15 % headroom as in the
    original (create-namespace/action.yml)."""
    total = {"requests.cpu": 0, "requests.memory": 0, "limits.cpu": 0, "limits.memory": 0}
    pods = services = pvcs = storage_mi = 0

    def add(spec: Manifest, count: int) -> None:
        nonlocal pods
        for key, value in pod_totals(spec).items():
            total[key] += value * count
        pods += count

    for obj in objects:
        kind = obj["kind"]
        if kind == "Deployment":
            add(obj["spec"]["template"]["spec"], obj["spec"]["replicas"] + 1)
        elif kind == "StatefulSet":
            add(obj["spec"]["template"]["spec"], obj["spec"]["replicas"])
            for template in obj["spec"]["volumeClaimTemplates"]:
                pvcs += obj["spec"]["replicas"]
                storage_mi += _mem(template["spec"]["resources"]["requests"]["storage"])
        elif kind == "Job":
            add(obj["spec"]["template"]["spec"], 1)
        elif kind == "Service":
            services += 1
        elif kind == "Cluster":
            spec = obj["spec"]
            instance = {"containers": [{"resources": spec["resources"]}]}
            add(instance, spec["instances"] + CNPG_JOB_PODS)
            pvcs += spec["instances"]
            storage_mi += _mem(spec["storage"]["size"]) * spec["instances"]
            services += CNPG_SERVICES
    hard = {
        "requests.cpu": f"{total['requests.cpu']}m",
        "requests.memory": f"{total['requests.memory']}Mi",
        "limits.cpu": f"{math.ceil(total['limits.cpu'] * 1.15)}m",
        "limits.memory": f"{math.ceil(total['limits.memory'] * 1.15)}Mi",
        "requests.storage": f"{max(storage_mi, 1)}Mi",
        "persistentvolumeclaims": str(pvcs),
        "pods": str(pods),
        "services": str(services),
        "services.loadbalancers": "0",
        "services.nodeports": "0",
        "configmaps": "15",
        "secrets": "25",
    }
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta("preview-quota", namespace, _labels(config, context, "quota", "policy")),
        "spec": {"hard": hard},
    }


# --- the whole plan ----------------------------------------------------------------------


def _seed_job(config: PreviewConfig, context: Context, namespace: str, url: str) -> Manifest:
    assert config.seed is not None
    app = config.app
    labels = _labels(config, context, "seed", "seed")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta("seed", namespace, labels),
        "spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": config.seed.timeout_seconds + WAIT_SECONDS,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": _pod_security(),
                    "imagePullSecrets": [{"name": context.pull_secret}],
                    "initContainers": _wait_containers(config),
                    "containers": [
                        {
                            "name": "seed",
                            "image": image_for(app, config, context),
                            "command": list(config.seed.command),
                            "env": _app_env(app, config, context, url),
                            "resources": _resources(app.resources),
                            "securityContext": _restricted(),
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def plan(config: PreviewConfig, context: Context) -> Plan:
    namespace = n.namespace_name(config.project_id, context.pr)
    n.check_commit(context.commit)
    n.check_repository(context.repository)
    app_urls = {
        a.name: f"https://{n.app_host(a.name, namespace, context.domain)}"
        for a in config.all_apps()
    }
    workloads: list[Manifest] = []
    secrets: dict[str, list[str]] = {}
    for kind, db in config.databases.items():
        if kind == "postgresql":
            workloads.append(_postgresql_cluster(db, config, context, namespace))
            secrets[credential_secret(kind)] = ["username", "password"]
        else:
            workloads.extend(_stateful_database(db, config, context, namespace))
            keys = {
                "mariadb": ["root-password", "password"],
                "mongodb": ["password"],
                "redis": ["password"],
                "minio": ["access-key", "secret-key"],
            }[kind]
            secrets[credential_secret(kind)] = keys
    if config.databases:
        secrets[ENV_SECRET] = env_secret_keys(config)
    if config.seed is not None:
        workloads.append(_seed_job(config, context, namespace, app_urls["app"]))
    for app in config.all_apps():
        workloads.extend(_app_workload(app, config, context, namespace, app_urls[app.name]))
    served = [a for a in config.all_apps() if a.ingress]
    if config.ingress_enabled and served:
        workloads.append(_ingress(served, config, context, namespace))
        secrets[context.tls_secret] = ["tls.crt", "tls.key"]
    secrets[context.pull_secret] = [".dockerconfigjson"]
    objects = [
        _namespace(config, context, namespace),
        _quota(workloads, config, context, namespace),
        _limit_range(config, context, namespace),
        *_network_policies(config, context, namespace),
        *workloads,
    ]
    return Plan(
        namespace=namespace,
        objects=objects,
        secrets=secrets,
        images={a.name: image_for(a, config, context) for a in config.all_apps()},
        urls={
            a.name: u
            for a, u in zip(config.all_apps(), app_urls.values(), strict=True)
            if a.ingress
        },
    )
