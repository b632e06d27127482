"""The platform's part of previews (labinfra.previews), under Pulumi's mocks (no CLI,
provider or cluster exists here), and the preview program fed with what it really exports.

- The example `lab` stacks run in deployment order (cluster -> platform), then a preview
  stack whose StackReferences receive the platform's and cluster's actual outputs, as
  `pulumi up` of a preview would: a renamed or missing output fails here.
- Every object is schema-valid (Kubernetes 1.33, vendored CRDs), policy-clean, and the
  janitor's pod meets Pod Security `restricted`; its GitHub token and the preview TLS key
  stay secret.
- The janitor's RBAC is exactly what it uses: the janitor runs (its CLI, with the
  CronJob's own environment) against a local server that answers as the Kubernetes API
  does (labjanitor.testing.fake_kube: no API server can run here), and every request it
  made is checked against the ClusterRole and Role the platform creates, with the RBAC
  rules of the Kubernetes documentation ("Using RBAC Authorization"); every rule was used.
- The CloudNativePG release: pinned chart, values keys present in the chart's vendored
  values.yaml, values valid against its vendored values.schema.json (what Helm checks),
  the operator pod meets restricted, and the operator version is the one whose Cluster
  CRD the tests validate against.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import yaml
from pulumi_policy import ResourceValidationArgs

from labinfra import charts
from labinfra.janitor_guard import POLICY_NAME
from labinfra.offline.harness import (
    ProgramFailedError,
    Recorded,
    RunOptions,
    StackOutputs,
    StackRun,
    fake_secret,
    run_project,
)
from labinfra.offline.lab import PROJECTS_DIR, inventory_overrides, run_lab
from labinfra.offline.validate import (
    check_stack,
    crd_catalog,
    find_crd_schemas,
    kubernetes_object,
    secret_leaks,
    validate_objects,
)
from labinfra.previews import (
    CNPG_NAMESPACE,
    CNPG_OPERATOR_TAG,
    JANITOR,
    JANITOR_NAMESPACE,
    PreviewSettings,
)
from labinfra.upstream import merged_values, unknown_values_keys, vendored_chart
from labjanitor import labels as L  # noqa: N812
from labjanitor.cli import main as janitor_main
from labjanitor.testing.fake_github import TOKEN, FakeGitHubServer, pull
from labjanitor.testing.fake_github import running as github_running
from labjanitor.testing.fake_kube import FakeKubeServer
from labjanitor.testing.fake_kube import running as kube_running
from labpolicies.pack import POLICIES
from labpolicies.pss import violations
from labpreview.offline import BASE_STACK, PullRequest, run_preview
from labpreview.plan import Context

REPO_ROOT = Path(__file__).resolve().parents[3]
INVENTORY = REPO_ROOT / "infra/labinfra/tests/fixtures/hosts.yml"
SCHEMAS = REPO_ROOT / "infra/labinfra/src/labinfra/schemas"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FIXTURES = REPO_ROOT / "infra/preview/tests/fixtures/valid"


@pytest.fixture(scope="module")
def lab() -> dict[str, StackRun]:
    return run_lab(BASE_STACK, overrides=inventory_overrides(INVENTORY))


@pytest.fixture(scope="module")
def platform(lab: dict[str, StackRun]) -> StackRun:
    return lab["platform"]


def ours(run: StackRun) -> list[Recorded]:
    """What labinfra.previews registered (children of the PreviewPlatform component)."""
    return [r for r in run.resources if "lab:platform:PreviewPlatform" in r.urn]


def objects(run: StackRun) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for r in ours(run):
        if r.is_kubernetes_object:
            o = kubernetes_object(r)
            found[(o["kind"], o["metadata"]["name"])] = o
    return found


def test_the_platform_creates_what_previews_need(platform: StackRun) -> None:
    found = objects(platform)
    assert set(found) == {
        ("Namespace", JANITOR_NAMESPACE),
        ("Namespace", CNPG_NAMESPACE),
        ("ServiceAccount", JANITOR),
        ("ClusterRole", JANITOR),
        ("ClusterRoleBinding", JANITOR),
        ("Role", JANITOR),
        ("RoleBinding", JANITOR),
        ("Secret", "preview-janitor-github"),
        ("CronJob", JANITOR),
        # labinfra.janitor_guard (tested in infra/labinfra/tests/test_janitor_guard.py)
        ("ValidatingAdmissionPolicy", POLICY_NAME),
        ("ValidatingAdmissionPolicyBinding", POLICY_NAME),
    }
    for name in (JANITOR_NAMESPACE, CNPG_NAMESPACE):
        labels = found[("Namespace", name)]["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    (release,) = [r for r in ours(platform) if r.is_helm_release]
    assert release.inputs["chart"] == "cloudnative-pg"
    assert release.inputs["namespace"] == CNPG_NAMESPACE
    # The preview program lets exactly this namespace reach its PostgreSQL pods.
    assert Context.__dataclass_fields__["cnpg_namespace"].default == CNPG_NAMESPACE


def test_the_janitor_cronjob_runs_every_six_hours_one_at_a_time(platform: StackRun) -> None:
    spec = objects(platform)[("CronJob", JANITOR)]["spec"]
    assert spec["schedule"] == "0 */6 * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == 1800
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == JANITOR
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["image"] == "registry.lab.internal/lab/janitor:0.1.0"
    # The janitor's runbook finds its jobs by this label.
    assert job["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == JANITOR
    assert spec["jobTemplate"]["metadata"]["labels"]["app.kubernetes.io/name"] == JANITOR


def test_every_object_is_schema_valid_and_policy_clean(platform: StackRun) -> None:
    problems = validate_objects(platform, crd_catalog(find_crd_schemas()))
    assert [p for p in problems if "preview" in p or "cnpg" in p or JANITOR in p] == []
    assert check_stack(platform) == []
    found: list[str] = []
    for r in ours(platform):
        args = ResourceValidationArgs(
            resource_type=r.type,
            props=r.inputs,
            urn=r.urn,
            name=r.name,
            opts=None,  # type: ignore[arg-type]
            provider=None,
        )
        for policy in POLICIES:
            policy.validate(args, lambda m, urn=None, p=policy.name: found.append(f"{p}: {m}"))
    assert found == []


def test_the_janitor_pod_meets_restricted(platform: StackRun) -> None:
    job = objects(platform)[("CronJob", JANITOR)]["spec"]["jobTemplate"]["spec"]["template"]
    assert violations(job["metadata"], job["spec"], "restricted") == []
    # The check can fail: without the pod's seccomp profile it does.
    spec = {**job["spec"], "securityContext": {"runAsNonRoot": True}}
    assert violations(job["metadata"], spec, "restricted")


def test_secrets_stay_secret(platform: StackRun) -> None:
    token = fake_secret("previewJanitorGithubToken")
    assert secret_leaks(platform, {"previewJanitorGithubToken": token}) == []
    (secret,) = [r for r in ours(platform) if r.inputs.get("kind") == "Secret"]
    assert "stringData" in secret.secret_paths
    assert secret.inputs["stringData"] == {"token": token}
    assert "previewTlsKeyPem" in platform.secret_outputs
    assert "previewTlsCertPem" not in platform.secret_outputs


def test_the_preview_certificate_is_a_wildcard_of_the_domain(platform: StackRun) -> None:
    (csr,) = [r for r in ours(platform) if r.type == "tls:index/certRequest:CertRequest"]
    assert csr.inputs["dnsNames"] == ["*.preview.lab.internal", "preview.lab.internal"]
    (cert,) = [
        r for r in ours(platform) if r.type == "tls:index/locallySignedCert:LocallySignedCert"
    ]
    assert "server_auth" in cert.inputs["allowedUses"]
    assert platform.outputs["previewDomain"] == "preview.lab.internal"


def test_a_preview_deploys_with_the_platforms_real_outputs(lab: dict[str, StackRun]) -> None:
    """`pulumi up` of a preview: its StackReferences get what cluster and platform export."""
    references = {
        f"organization/{run.project}/{BASE_STACK}": StackOutputs(run.outputs, run.secret_outputs)
        for run in (lab["cluster"], lab["platform"])
    }
    text = (
        REPO_ROOT / "infra/preview/tests/fixtures/valid/all-databases-postgresql.yaml"
    ).read_text()
    run = run_preview(text, PullRequest(5, "main", COMMIT), references=references)
    tls = next(
        kubernetes_object(r)
        for r in run.kubernetes_objects()
        if r.inputs.get("kind") == "Secret" and r.inputs["metadata"]["name"] == "preview-tls"
    )
    assert tls["stringData"]["tls.crt"] == lab["platform"].outputs["previewTlsCertPem"]
    assert tls["stringData"]["tls.key"] == lab["platform"].outputs["previewTlsKeyPem"]
    assert validate_objects(run, crd_catalog(find_crd_schemas())) == []
    # The preview stacks and the platform agree on the domain the certificate is for.
    preview_stack = yaml.safe_load((PROJECTS_DIR / "preview/Pulumi.lab.yaml").read_text())
    assert (
        preview_stack["config"]["lab-preview:previewDomain"] == run.outputs["url"].split(".", 1)[1]
    )
    assert run.outputs["url"].endswith("." + lab["platform"].outputs["previewDomain"])


_WITHOUT_PREVIEWS = """
import sys
from pathlib import Path
from labinfra.offline.harness import ProgramFailedError, StackOutputs
from labpreview.offline import PullRequest, fake_references, run_preview
refs = fake_references()
platform = refs["organization/lab-platform/lab"]
refs["organization/lab-platform/lab"] = StackOutputs(
    {k: v for k, v in platform.values.items() if not k.startswith("previewTls")}
)
try:
    run_preview(Path(sys.argv[1]).read_text(), PullRequest(5, "main", "a" * 40), references=refs)
except ProgramFailedError as exc:
    print(repr(exc.__cause__))
    sys.exit(3)
"""


def test_without_previews_on_the_platform_a_preview_fails_clearly() -> None:
    """A platform deployed with `previews.enabled: false` exports no certificate: the
    preview stops, naming the missing output. (In its own process: a program that fails
    inside an output leaves Pulumi's runtime unusable for the next run in the same one.)"""
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PREVIEWS, str(FIXTURES / "minimal.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 3, result.stderr[-2000:]
    assert "previewTlsCertPem" in result.stdout


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"enabled": True}, "set domain"),
        ({"enabled": True, "domain": "p.lab", "janitorImage": "registry.lab.internal/j"}, "pin"),
        ({"enabled": True, "domain": "Bad_Domain"}, "pattern"),
    ],
)
def test_bad_preview_settings_are_refused(settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        PreviewSettings.model_validate(settings)


def test_enabled_previews_need_the_janitor_token(lab: dict[str, StackRun]) -> None:
    cluster = lab["cluster"]
    with pytest.raises(ProgramFailedError) as caught:
        run_project(
            PROJECTS_DIR / "platform",
            BASE_STACK,
            RunOptions(
                overrides={
                    **inventory_overrides(INVENTORY)["platform"],
                    "previewJanitorGithubToken": None,
                },
                stack_references={
                    f"organization/lab-cluster/{BASE_STACK}": StackOutputs(
                        cluster.outputs, cluster.secret_outputs
                    )
                },
            ),
        )
    assert "previewJanitorGithubToken: missing secret" in str(caught.value.__cause__)


# --- CloudNativePG -------------------------------------------------------------------------


def _release(platform: StackRun) -> Recorded:
    (release,) = [r for r in ours(platform) if r.is_helm_release]
    return release


def test_the_operator_chart_is_pinned_and_its_values_are_the_charts(platform: StackRun) -> None:
    release = _release(platform)
    chart = charts.CLOUDNATIVE_PG
    assert (release.inputs["version"], release.inputs["repositoryOpts"]["repo"]) == (
        chart.version,
        chart.repository,
    )
    values = release.inputs["values"]
    assert unknown_values_keys(chart.name, chart.version, values) == []
    # What Helm checks on install: the merged values against the chart's own schema.
    vendored = vendored_chart(chart.name, chart.version)
    schema = json.loads((vendored.folder / "values.schema.json").read_text())
    jsonschema.validate(merged_values(chart.name, chart.version, values), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merged_values(chart.name, chart.version, {"replicaCount": "x"}), schema)


def operator_pod(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The operator pod as cloudnative-pg 0.29.0 templates/deployment.yaml renders it (the
    fields Pod Security reads; upstream chart.yaml facts)."""
    spec: dict[str, Any] = {
        "securityContext": dict(values["podSecurityContext"]),
        "containers": [
            {
                "name": "manager",
                "image": f"{values['image']['repository']}:{values['image']['tag']}",
                "securityContext": dict(values["containerSecurityContext"]),
            }
        ],
        "volumes": [
            {"name": "scratch-data", "emptyDir": {}},
            {"name": "webhook-certificates", "secret": {"secretName": "cnpg-webhook-cert"}},
        ],
    }
    if values.get("hostNetwork"):
        spec["hostNetwork"] = True
    return {"annotations": dict(values.get("podAnnotations") or {})}, spec


def test_the_operator_meets_restricted_and_is_the_version_validated_against(
    platform: StackRun,
) -> None:
    chart = charts.CLOUDNATIVE_PG
    values = merged_values(chart.name, chart.version, _release(platform).inputs["values"])
    meta, spec = operator_pod(values)
    assert violations(meta, spec, "restricted") == []
    assert violations(*operator_pod({**values, "hostNetwork": True}), "restricted")
    assert (
        spec["containers"][0]["image"]
        == f"ghcr.io/cloudnative-pg/cloudnative-pg:{CNPG_OPERATOR_TAG}"
    )
    # The operator is the chart's appVersion, and the vendored Cluster CRD is that release's.
    assert vendored_chart(chart.name, chart.version).app_version == CNPG_OPERATOR_TAG
    readme = (SCHEMAS / "README.md").read_text()
    (row,) = [line for line in readme.splitlines() if "crds/postgresql.cnpg.io/" in line]
    assert f"v{CNPG_OPERATOR_TAG} " in row


# --- the janitor's RBAC, against what the janitor really requests ----------------------


def _request(method: str, raw_path: str) -> dict[str, Any]:
    """Kubernetes' request attributes of one API request (verb, group, resource,
    subresource, namespace, name), as the API server derives them for authorization."""
    parts = urlsplit(raw_path)
    segments = parts.path.strip("/").split("/")
    if segments[0] == "api":
        group, rest = "", segments[2:]
    else:
        group, rest = segments[1], segments[3:]
    namespace = None
    if rest[0] == "namespaces" and len(rest) > 2:
        namespace, rest = rest[1], rest[2:]
    resource, name, sub = (
        rest[0],
        (rest[1] if len(rest) > 1 else None),
        (rest[2] if len(rest) > 2 else None),
    )
    if resource == "namespaces" and name is not None:
        namespace = name
    verb = {
        "GET": "get" if name else "list",
        "PATCH": "patch",
        "PUT": "update",
        "POST": "create",
        "DELETE": "delete",
    }[method]
    return {
        "verb": verb,
        "group": group,
        "resource": f"{resource}/{sub}" if sub else resource,
        "namespace": namespace,
        "name": name,
        "query": parse_qs(parts.query),
    }


def _allows(rule: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    return (
        request["verb"] in rule["verbs"]
        and request["group"] in rule["apiGroups"]
        and request["resource"] in rule["resources"]
        and (not rule.get("resourceNames") or request["name"] in rule["resourceNames"])
    )


def _allowed_by(
    found: dict[tuple[str, str], dict[str, Any]], request: Mapping[str, Any]
) -> list[tuple[str, int]]:
    """Which rules allow `request`: ClusterRole rules everywhere, Role rules in its namespace."""
    hits = [
        ("ClusterRole", i)
        for i, rule in enumerate(found[("ClusterRole", JANITOR)]["rules"])
        if _allows(rule, request)
    ]
    role = found[("Role", JANITOR)]
    if request["namespace"] == role["metadata"]["namespace"]:
        hits += [("Role", i) for i, rule in enumerate(role["rules"]) if _allows(rule, request)]
    return hits


@pytest.fixture
def servers() -> Iterator[tuple[FakeKubeServer, FakeGitHubServer]]:
    kube = kube_running()
    github = github_running()
    try:
        yield next(kube), next(github)
    finally:
        for gen in (kube, github):
            for _ in gen:
                pass


def _cronjob_env(platform: StackRun) -> dict[str, str]:
    found = objects(platform)
    pod = found[("CronJob", JANITOR)]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    secret = found[("Secret", "preview-janitor-github")]["stringData"]
    env = {}
    for entry in pod["containers"][0]["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "preview-janitor-github"
            env[entry["name"]] = secret[ref["key"]]
    return env


def test_the_janitor_needs_exactly_its_rbac(
    platform: StackRun,
    servers: tuple[FakeKubeServer, FakeGitHubServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kube, github = servers
    now = datetime.now(UTC)
    repo = "example-lab/lab"

    def namespace(name: str, pr: int, **annotations: str) -> None:
        labels = {
            L.LABEL_TYPE: L.TYPE_EPHEMERAL,
            L.LABEL_MANAGED_BY: L.MANAGED_BY,
            L.LABEL_PR: str(pr),
        }
        base = {
            L.ANNOTATION_REPOSITORY: repo,
            L.ANNOTATION_DEPLOY_STATUS: "deployed",
            L.ANNOTATION_EXPIRES: (now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            L.ANNOTATION_UPDATED: (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if "preserve" in annotations:
            labels[L.LABEL_PRESERVE] = "true"
            annotations = {L.ANNOTATION_PRESERVE_UNTIL: annotations.pop("preserve")}
        kube.state.add_namespace(name, labels, {**base, **annotations})

    kube.state.add_namespace(JANITOR_NAMESPACE)
    github.state.add_pull(repo, pull(1, "closed", True))  # deleted
    github.state.add_pull(repo, pull(2))  # put to sleep
    github.state.add_pull(repo, pull(3))  # preservation over: unpreserved
    namespace("lab-pr-1", 1)
    namespace(
        "lab-pr-2",
        2,
        **{
            L.ANNOTATION_SLEEP_AFTER_HOURS: "1",
            L.ANNOTATION_UPDATED: (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    namespace("lab-pr-3", 3, preserve=(now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    workload = {
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}},
        }
    }
    kube.state.add_object("apps/v1/deployments", "lab-pr-2", "app", workload)
    kube.state.add_object("apps/v1/statefulsets", "lab-pr-2", "redis", workload)
    kube.state.add_object("postgresql.cnpg.io/v1/clusters", "lab-pr-2", "postgresql", {"spec": {}})

    for key in list(os.environ):
        if key.startswith("JANITOR_"):
            monkeypatch.delenv(key)
    env = _cronjob_env(platform)
    assert env["JANITOR_GITHUB_TOKEN"] == fake_secret("previewJanitorGithubToken")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # Here only: the local servers instead of in-cluster config and api.github.com.
    monkeypatch.setenv("JANITOR_GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("JANITOR_KUBERNETES_HOST", kube.url)
    monkeypatch.setenv("JANITOR_GITHUB_API_URL", github.url)
    assert janitor_main([]) == 0  # first run: creates the ETag ConfigMap
    assert janitor_main([]) == 0  # second run: reads and replaces it

    assert "lab-pr-1" not in kube.state.namespaces
    assert kube.state.objects[("apps/v1/deployments", "lab-pr-2", "app")]["spec"]["replicas"] == 0
    assert L.LABEL_PRESERVE not in kube.state.namespaces["lab-pr-3"]["metadata"]["labels"]
    found = objects(platform)
    used: set[tuple[str, int]] = set()
    for method, path in kube.state.requests:
        request = _request(method, path)
        hits = _allowed_by(found, request)
        assert hits, f"the janitor's {method} {path} is not allowed by its RBAC"
        used.update(hits)
    rules = [("ClusterRole", i) for i in range(len(found[("ClusterRole", JANITOR)]["rules"]))]
    rules += [("Role", i) for i in range(len(found[("Role", JANITOR)]["rules"]))]
    assert sorted(set(rules) - used) == [], "rules the janitor never needed"
    # A request outside its rights is refused by the same check (so the check can fail).
    assert not _allowed_by(found, _request("DELETE", "/api/v1/namespaces/x/secrets/y"))
    assert not _allowed_by(found, _request("PUT", "/api/v1/namespaces/lab-pr-2/configmaps/other"))
