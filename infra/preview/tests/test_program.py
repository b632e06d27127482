"""The preview program under Pulumi's mocks (no CLI, provider or cluster exists here) for
several configs: every object schema-valid against Kubernetes 1.33 and the vendored CRDs
(CloudNativePG's Cluster, prometheus-operator's ServiceMonitor), policy-clean, Pod Security
`restricted`, names within limits, secrets never in clear, the quota big enough."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labinfra.offline.harness import ProgramFailedError, Recorded, StackRun
from labinfra.offline.validate import (
    check_stack,
    crd_catalog,
    find_crd_schemas,
    kubernetes_object,
    secret_leaks,
    validate_objects,
)
from labinfra.stackconfig import StackConfigError
from labpolicies.pack import pack_violations
from labpreview.offline import PullRequest, run_preview
from labpreview.plan import pod_totals

sys.path.insert(0, str(Path(__file__).parent))
from pss import pod_specs, violations

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[3]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
LONG_BRANCH = "feature/" + "very-long-branch-name-" * 8 + "ü" * 20
assert len(LONG_BRANCH) >= 200

CONFIGS = {
    "original-dogfood": (FIXTURES / "valid" / "original-dogfood.yaml", "main"),
    "no-databases": (FIXTURES / "valid" / "minimal.yaml", "main"),
    "all-databases-postgresql": (FIXTURES / "valid" / "all-databases-postgresql.yaml", "main"),
    "all-databases-mariadb": (FIXTURES / "valid" / "all-databases-mariadb.yaml", "main"),
    "our-additions": (FIXTURES / "valid" / "our-additions.yaml", "main"),
    "original-full-example": (FIXTURES / "valid" / "original-full-example.yaml", "main"),
    "this-repository": (REPO / "k8s-ee.yaml", "main"),
    "branch-200-characters": (FIXTURES / "valid" / "all-databases-postgresql.yaml", LONG_BRANCH),
}
_RUNS: dict[str, StackRun] = {}


def run_of(name: str) -> StackRun:
    if name not in _RUNS:
        path, branch = CONFIGS[name]
        _RUNS[name] = run_preview(path.read_text(encoding="utf-8"), PullRequest(42, branch, COMMIT))
    return _RUNS[name]


def objects(run: StackRun) -> Iterator[tuple[Recorded, dict[str, Any]]]:
    for r in run.kubernetes_objects():
        yield r, kubernetes_object(r)


@pytest.mark.parametrize("name", CONFIGS)
def test_objects_are_schema_valid(name: str) -> None:
    run = run_of(name)
    assert validate_objects(run, crd_catalog(find_crd_schemas())) == []
    assert check_stack(run) == []


def test_custom_resources_were_checked_against_vendored_crds() -> None:
    run = run_of("all-databases-postgresql")
    kinds = {(o["apiVersion"], o["kind"]) for _, o in objects(run)}
    assert ("postgresql.cnpg.io/v1", "Cluster") in kinds
    assert ("monitoring.coreos.com/v1", "ServiceMonitor") in kinds
    assert kinds & crd_catalog(find_crd_schemas()).kinds() == {
        ("postgresql.cnpg.io/v1", "Cluster"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
    }


@pytest.mark.parametrize("name", CONFIGS)
def test_policy_pack_passes(name: str) -> None:
    assert pack_violations(run_of(name).resources) == []


@pytest.mark.parametrize("name", CONFIGS)
def test_pods_meet_pod_security_restricted(name: str) -> None:
    run = run_of(name)
    namespace = next(o for _, o in objects(run) if o["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    found = [
        f"{o['metadata']['name']}: {v}"
        for _, o in objects(run)
        for s in pod_specs(o)
        for v in violations(s)
    ]
    assert found == []


_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@pytest.mark.parametrize("name", CONFIGS)
def test_names_and_labels_within_limits(name: str) -> None:
    for _, o in objects(run_of(name)):
        meta = o["metadata"]
        assert _DNS_LABEL.match(meta["name"]), meta["name"]
        for key, value in (meta.get("labels") or {}).items():
            assert len(value) <= 63, (key, value)
            assert _LABEL_VALUE.match(value), (key, value)
        if o["kind"] == "StatefulSet":
            # controller-revision-hash = <name>-<10 chars> must stay a label value.
            assert len(meta["name"]) <= 52


def test_the_long_branch_is_sanitised_into_its_label() -> None:
    namespace = next(
        o for _, o in objects(run_of("branch-200-characters")) if o["kind"] == "Namespace"
    )
    label = namespace["metadata"]["labels"]["k8s-ee/branch"]
    assert label.startswith("feature-very-long-branch-name-")
    assert len(label) <= 63
    app = next(o for _, o in objects(run_of("branch-200-characters")) if o["kind"] == "Deployment")
    env = {
        e["name"]: e.get("value") for e in app["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["BRANCH_NAME"] == LONG_BRANCH  # the variable keeps the real name


@pytest.mark.parametrize("name", CONFIGS)
def test_generated_credentials_stay_secret(name: str) -> None:
    run = run_of(name)
    passwords = {
        r.name: f"mock-random-{r.name}"
        for r in run.of_type("random:index/randomPassword:RandomPassword")
    }
    assert secret_leaks(run, passwords) == []
    for r in run.kubernetes_objects():
        if r.inputs.get("kind") == "Secret":
            assert any(p.startswith("stringData") for p in r.secret_paths), r.name


def test_injected_variables_are_the_originals() -> None:
    run = run_of("original-dogfood")
    app = next(
        o for _, o in objects(run) if o["kind"] == "Deployment" and o["metadata"]["name"] == "app"
    )
    pod = app["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["PR_NUMBER"]["value"] == "42"
    assert env["COMMIT_SHA"]["value"] == COMMIT
    assert env["BRANCH_NAME"]["value"] == "main"
    assert env["PREVIEW_URL"]["value"] == "https://k8s-ee-pr-42.preview.lab.internal"
    assert env["DATABASE_TYPE"]["value"] == "mariadb"
    for key in (
        "MYSQL_URL",
        "MONGODB_URL",
        "MONGODB_URI",
        "REDIS_URL",
        "MINIO_ENDPOINT",
        "MINIO_PORT",
        "MINIO_ACCESS_KEY",
        "MINIO_SECRET_KEY",
        "MINIO_BUCKET",
        "S3_ENDPOINT",
    ):
        assert env[key]["valueFrom"]["secretKeyRef"] == {"name": "preview-env", "key": key}
    # The app waits for each of its databases with that database's client.
    assert [c["name"] for c in pod["initContainers"]] == [
        "wait-for-mariadb",
        "wait-for-mongodb",
        "wait-for-redis",
        "wait-for-minio",
    ]
    probe = pod["containers"][0]["readinessProbe"]["httpGet"]
    assert probe == {"path": "/api/health", "port": "http"}


def test_every_database_keeps_its_data_on_a_volume() -> None:
    for name in ("all-databases-mariadb", "all-databases-postgresql"):
        for _, o in objects(run_of(name)):
            if o["kind"] == "StatefulSet":
                assert o["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"][
                    "storage"
                ]
                mounts = {
                    m["name"]
                    for m in o["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
                }
                assert "data" in mounts
            if o["kind"] == "Cluster":
                assert o["spec"]["storage"]["size"] == "2Gi"
                assert o["spec"]["bootstrap"]["initdb"]["secret"] == {
                    "name": "postgresql-credentials"
                }


def test_the_quota_admits_every_pod_and_one_rolling_update() -> None:
    for name in CONFIGS:
        run = run_of(name)
        objs = [o for _, o in objects(run)]
        hard = next(o for o in objs if o["kind"] == "ResourceQuota")["spec"]["hard"]
        need = {"requests.cpu": 0, "requests.memory": 0}
        for o in objs:
            for spec in pod_specs(o):
                extra = 2 if o["kind"] == "Deployment" else 1
                for key in need:
                    need[key] += pod_totals(spec)[key] * extra
        assert int(hard["requests.cpu"].rstrip("m")) >= need["requests.cpu"], name
        assert int(hard["requests.memory"].rstrip("Mi")) >= need["requests.memory"], name
        assert hard["services.loadbalancers"] == "0"


def test_network_policies_deny_private_networks() -> None:
    run = run_of("all-databases-postgresql")
    policies = {
        o["metadata"]["name"]: o["spec"] for _, o in objects(run) if o["kind"] == "NetworkPolicy"
    }
    assert policies["default-deny"]["policyTypes"] == ["Ingress", "Egress"]
    internet = policies["allow-internet-egress"]["egress"][0]["to"][0]["ipBlock"]
    assert internet["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(internet["except"])
    # Only CloudNativePG's pods reach the API server.
    api = policies["allow-postgresql-operator"]
    assert api["podSelector"] == {"matchLabels": {"cnpg.io/cluster": "postgresql"}}
    assert api["egress"][0]["ports"] == [{"protocol": "TCP", "port": 6443}]
    for name, spec in policies.items():
        if name != "allow-postgresql-operator":
            assert not any(
                p.get("port") == 6443
                for rule in spec.get("egress", [])
                for p in rule.get("ports", [])
            )


def test_outputs_for_the_pr_comment() -> None:
    run = run_of("this-repository")
    assert run.outputs["namespace"] == "lab-pr-42"
    assert run.outputs["url"] == "https://lab-pr-42.preview.lab.internal"
    assert run.outputs["urls"]["picotemp"] == "https://picotemp-lab-pr-42.preview.lab.internal"
    assert run.outputs["grafanaUrl"].endswith("?var-namespace=lab-pr-42")
    assert not run.secret_outputs


INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_an_invalid_config_creates_nothing(path: Path) -> None:
    with pytest.raises(ProgramFailedError) as caught:
        run_preview(path.read_text(encoding="utf-8"), PullRequest(42, "main", COMMIT))
    assert caught.value.run.resources == []
    assert isinstance(caught.value.__cause__, StackConfigError)
    assert "k8s-ee.yaml" in str(caught.value.__cause__)
