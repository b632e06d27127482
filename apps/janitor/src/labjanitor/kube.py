"""The janitor's Kubernetes calls, through the official `kubernetes` client.

Only what the RBAC in the platform grants (labinfra `PreviewJanitor`): list, patch and
delete namespaces; read and scale Deployments and StatefulSets; patch CloudNativePG
Clusters (hibernation); read and write one ConfigMap (the GitHub ETag cache).

Patches are JSON merge patches (RFC 7386: `null` removes a key). The client would pick
`application/json-patch+json` for a dict body (kubernetes/client/api_client.py,
`select_header_content_type`, takes the first listed type unless the body is a list), which
the API server rejects for a map, so every patch names its content type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from labjanitor import labels as L  # noqa: N812
from labjanitor.core.model import PreviewNamespace, format_time
from labjanitor.github import Cached

MERGE_PATCH = "application/merge-patch+json"
CNPG_GROUP = "postgresql.cnpg.io"
CNPG_VERSION = "v1"
CNPG_HIBERNATION = "cnpg.io/hibernation"
"""CloudNativePG's declarative hibernation: the annotation `cnpg.io/hibernation: "on"` on a
Cluster stops its pods and keeps its PVCs (CloudNativePG documentation 1.25, "Declarative
hibernation"); the preview program sets it back to "off" on the next deploy."""


class KubeError(RuntimeError):
    """A Kubernetes API call failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def api_client(host: str | None = None, token: str | None = None) -> k8s.ApiClient:
    """An API client: for `host` (tests), else in-cluster, else the local kubeconfig."""
    if host is not None:
        configuration = k8s.Configuration()
        configuration.host = host
        if token:
            configuration.api_key = {"authorization": f"Bearer {token}"}
        return k8s.ApiClient(configuration)
    try:
        k8s_config.load_incluster_config()
    except k8s_config.ConfigException:
        k8s_config.load_kube_config()
    return k8s.ApiClient()


def _fail(what: str, exc: ApiException) -> KubeError:
    reason = ""
    try:
        reason = json.loads(exc.body or "{}").get("message", "")
    except (ValueError, AttributeError):
        reason = str(exc.reason)
    return KubeError(f"{what}: {exc.status} {reason or exc.reason}", exc.status)


def to_preview_namespace(item: Any) -> PreviewNamespace:
    meta = item.metadata
    created = meta.creation_timestamp
    return PreviewNamespace(
        name=meta.name,
        labels=dict(meta.labels or {}),
        annotations=dict(meta.annotations or {}),
        created=created if isinstance(created, datetime) else None,
        deleting=meta.deletion_timestamp is not None,
    )


class Kube:
    def __init__(self, api: k8s.ApiClient) -> None:
        self.core = k8s.CoreV1Api(api)
        self.apps = k8s.AppsV1Api(api)
        self.custom = k8s.CustomObjectsApi(api)
        self._uids: dict[str, str] = {}

    def preview_namespaces(self, page_size: int = 500) -> list[PreviewNamespace]:
        """Every namespace labelled `k8s-ee/type=ephemeral`, following `continue` tokens."""
        found: list[PreviewNamespace] = []
        token: str | None = None
        while True:
            try:
                page = self.core.list_namespace(
                    label_selector=L.EPHEMERAL_SELECTOR, limit=page_size, _continue=token
                )
            except ApiException as exc:
                raise _fail("list namespaces", exc) from None
            for item in page.items:
                self._uids[item.metadata.name] = item.metadata.uid
                found.append(to_preview_namespace(item))
            token = page.metadata._continue
            if not token:
                return found

    def delete_namespace(self, name: str) -> None:
        """Delete exactly the namespace that was listed (its UID as a precondition), so a
        namespace re-created under the same name meanwhile is never deleted by mistake."""
        uid = self._uids.get(name)
        body = k8s.V1DeleteOptions(
            propagation_policy="Background",
            preconditions=k8s.V1Preconditions(uid=uid) if uid else None,
        )
        try:
            self.core.delete_namespace(name, body=body)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise _fail(f"delete namespace {name}", exc) from None

    def patch_namespace(
        self,
        name: str,
        labels: Mapping[str, str | None] | None = None,
        annotations: Mapping[str, str | None] | None = None,
    ) -> None:
        metadata: dict[str, Any] = {}
        if labels:
            metadata["labels"] = dict(labels)
        if annotations:
            metadata["annotations"] = dict(annotations)
        try:
            self.core.patch_namespace(name, {"metadata": metadata}, _content_type=MERGE_PATCH)
        except ApiException as exc:
            raise _fail(f"patch namespace {name}", exc) from None

    def unpreserve(self, name: str) -> None:
        self.patch_namespace(
            name,
            labels={L.LABEL_PRESERVE: None},
            annotations={
                L.ANNOTATION_PRESERVE_UNTIL: None,
                L.ANNOTATION_PRESERVED_BY: None,
                L.ANNOTATION_PRESERVE_WARNED: None,
            },
        )

    def sleep(self, name: str, now: datetime) -> list[str]:
        """Scale every Deployment and StatefulSet to zero and hibernate PostgreSQL; returns
        what was scaled. The next deploy (`pulumi up`) scales them back."""
        scaled: list[str] = []
        body = {"spec": {"replicas": 0}}
        try:
            for deployment in self.apps.list_namespaced_deployment(name).items:
                self.apps.patch_namespaced_deployment_scale(
                    deployment.metadata.name, name, body, _content_type=MERGE_PATCH
                )
                scaled.append(f"deployment/{deployment.metadata.name}")
            for stateful in self.apps.list_namespaced_stateful_set(name).items:
                self.apps.patch_namespaced_stateful_set_scale(
                    stateful.metadata.name, name, body, _content_type=MERGE_PATCH
                )
                scaled.append(f"statefulset/{stateful.metadata.name}")
            clusters = self.custom.list_namespaced_custom_object(
                CNPG_GROUP, CNPG_VERSION, name, "clusters"
            )
            for cluster in clusters.get("items", []):
                cname = cluster["metadata"]["name"]
                self.custom.patch_namespaced_custom_object(
                    CNPG_GROUP,
                    CNPG_VERSION,
                    name,
                    "clusters",
                    cname,
                    {"metadata": {"annotations": {CNPG_HIBERNATION: "on"}}},
                    _content_type=MERGE_PATCH,
                )
                scaled.append(f"cluster/{cname}")
        except ApiException as exc:
            raise _fail(f"scale down {name}", exc) from None
        self.patch_namespace(name, annotations={L.ANNOTATION_SLEEPING_SINCE: format_time(now)})
        return scaled

    # --- the ETag cache, kept across runs in one ConfigMap --------------------------

    def read_cache(self, namespace: str, name: str) -> dict[str, Cached]:
        try:
            cm = self.core.read_namespaced_config_map(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return {}
            raise _fail(f"read configmap {namespace}/{name}", exc) from None
        try:
            raw = json.loads((cm.data or {}).get("etags.json", "{}"))
            return {k: Cached(v["etag"], v["body"], v.get("link", "")) for k, v in raw.items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return {}

    def write_cache(self, namespace: str, name: str, cache: Mapping[str, Cached]) -> None:
        data = {"etags.json": json.dumps(dict(_cache_items(cache)), sort_keys=True)}
        body = k8s.V1ConfigMap(
            metadata=k8s.V1ObjectMeta(
                name=name,
                namespace=namespace,
                labels={
                    "app.kubernetes.io/name": "preview-janitor",
                    "app.kubernetes.io/part-of": "lab",
                    "app.kubernetes.io/managed-by": "preview-janitor",
                },
            ),
            data=data,
        )
        try:
            self.core.replace_namespaced_config_map(name, namespace, body)
        except ApiException as exc:
            if exc.status != 404:
                raise _fail(f"write configmap {namespace}/{name}", exc) from None
            try:
                self.core.create_namespaced_config_map(namespace, body)
            except ApiException as exc2:
                raise _fail(f"create configmap {namespace}/{name}", exc2) from None


def _cache_items(cache: Mapping[str, Cached]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key, value in cache.items():
        item = {"etag": value.etag, "body": value.body}
        if value.link:
            item["link"] = value.link
        yield key, item
