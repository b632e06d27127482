"""The admission policy that keeps the preview janitor to preview namespaces
(labinfra.janitor_guard), as the platform stack records it under Pulumi's mocks.

- The ValidatingAdmissionPolicy and its binding are schema-valid against the Kubernetes 1.33
  schemas the harness uses (kubernetes-validate, strict), pass the policy pack, and are in
  force before the janitor's CronJob is created.
- Its CEL expressions are evaluated, not matched as text: with cel-python (PyPI
  `cel-python`, a pure-Python implementation of the CEL specification), on inputs shaped
  as the API server's admission request (AdmissionRequest of admission/v1: `request`, and
  `object`/`oldObject`, `object` null for DELETE). This is NOT the API server's CEL
  (cel-go with Kubernetes' libraries, type-checked against the Namespace schema): no API
  server can run here (no k3s, no kube-apiserver, no cluster), so a policy that cel-go
  would refuse to compile is not caught by this; the expressions keep to the CEL core
  (`has`, `in`, map index, `&&`, `||`, string `+`) that both implement. The match rules
  (`matchConstraints.resourceRules`) are applied by this test's own code, following the
  field documentation of kubernetes/api v0.33.5 admissionregistration/v1/types.go.
- The username the policy matches is the one of the ServiceAccount and namespace that the
  CronJob's pods actually run as, read from the recorded objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
import kubernetes_validate
import pytest
from celpy.adapter import json_to_cel
from celpy.celtypes import BoolType
from celpy.evaluation import CELEvalError
from pulumi_policy import ResourceValidationArgs

from labinfra.janitor_guard import POLICY_NAME, service_account_username
from labinfra.offline.harness import Recorded, StackRun
from labinfra.offline.validate import KUBERNETES_VERSION, kubernetes_object
from labinfra.previews import JANITOR
from labjanitor import labels as L  # noqa: N812
from labpolicies.pack import POLICIES
from labpreview.offline import PullRequest, run_preview

REPO_ROOT = Path(__file__).resolve().parents[3]

POLICY = "ValidatingAdmissionPolicy"
BINDING = "ValidatingAdmissionPolicyBinding"


def _recorded(run: StackRun, kind: str, name: str) -> Recorded:
    (found,) = [
        r
        for r in run.kubernetes_objects()
        if r.inputs["kind"] == kind and r.inputs["metadata"]["name"] == name
    ]
    return found


@pytest.fixture(scope="module")
def platform(lab_runs: dict[str, StackRun]) -> StackRun:
    return lab_runs["platform"]


@pytest.fixture(scope="module")
def policy(platform: StackRun) -> dict[str, Any]:
    return kubernetes_object(_recorded(platform, POLICY, POLICY_NAME))


def _pack_problems(args: ResourceValidationArgs) -> list[str]:
    found: list[str] = []
    for pack_policy in POLICIES:
        pack_policy.validate(
            args, lambda m, urn=None, p=pack_policy.name: found.append(f"{p}: {m}")
        )
    return found


# --- the objects ---------------------------------------------------------------------------


def test_the_policy_and_binding_are_schema_valid_and_policy_clean(platform: StackRun) -> None:
    for kind in (POLICY, BINDING):
        resource = _recorded(platform, kind, POLICY_NAME)
        obj = kubernetes_object(resource)
        assert obj["apiVersion"] == "admissionregistration.k8s.io/v1"
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        args = ResourceValidationArgs(
            resource_type=resource.type,
            props=resource.inputs,
            urn=resource.urn,
            name=resource.name,
            opts=None,  # type: ignore[arg-type]
            provider=None,
        )
        assert _pack_problems(args) == []
    # The schema check can fail: a misspelt field of the policy is refused.
    bad = kubernetes_object(_recorded(platform, POLICY, POLICY_NAME))
    bad["spec"] = {**bad["spec"], "failurePolicies": "Fail"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_the_binding_denies_and_the_policy_fails_closed(
    platform: StackRun, policy: dict[str, Any]
) -> None:
    binding = kubernetes_object(_recorded(platform, BINDING, POLICY_NAME))
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert "paramRef" not in binding["spec"]
    assert "paramKind" not in policy["spec"]
    assert policy["spec"]["failurePolicy"] == "Fail"


def test_the_guard_is_in_force_before_the_janitor_runs(platform: StackRun) -> None:
    cronjob = _recorded(platform, "CronJob", JANITOR)
    binding = _recorded(platform, BINDING, POLICY_NAME)
    assert platform.depends_on(cronjob, binding)
    assert platform.depends_on(binding, _recorded(platform, POLICY, POLICY_NAME))


def test_the_username_is_the_service_account_the_cronjob_runs_as(
    platform: StackRun, policy: dict[str, Any]
) -> None:
    cronjob = kubernetes_object(_recorded(platform, "CronJob", JANITOR))
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    namespace, account = cronjob["metadata"]["namespace"], pod["serviceAccountName"]
    service_account = kubernetes_object(_recorded(platform, "ServiceAccount", account))
    assert service_account["metadata"]["namespace"] == namespace
    username = service_account_username(namespace, account)
    guard = Guard(policy["spec"])
    assert guard.matches(delete(username, _namespace("kube-system", {})))
    # Another account of the same namespace, or the same name elsewhere, is not matched.
    assert not guard.matches(delete(f"{username}-other", _namespace("kube-system", {})))
    other_namespace = service_account_username("default", account)
    assert not guard.matches(delete(other_namespace, _namespace("kube-system", {})))


# --- the expressions, evaluated ------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    matched: bool
    allowed: bool
    message: str = ""


class Guard:
    """One ValidatingAdmissionPolicy, evaluated as its field documentation says (kubernetes/api
    v0.33.5, admissionregistration/v1/types.go): a request it does not match (resource rules,
    then every matchCondition true) is not its business; a matched request is allowed only if
    every validation is true; an expression that errors rejects under failurePolicy Fail."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        env = celpy.Environment()
        self._conditions = [
            env.program(env.compile(c["expression"])) for c in spec.get("matchConditions", [])
        ]
        self._validations = [
            (
                env.program(env.compile(v["expression"])),
                env.program(env.compile(v["messageExpression"]))
                if "messageExpression" in v
                else None,
                v.get("message", f"failed expression: {v['expression']}"),
            )
            for v in spec["validations"]
        ]

    def _rules_match(self, request: Mapping[str, Any]) -> bool:
        resource = request["resource"]
        for rule in self.spec["matchConstraints"]["resourceRules"]:
            if (
                resource["group"] in rule["apiGroups"]
                and resource["version"] in rule["apiVersions"]
                and resource["resource"] in rule["resources"]
                and request["operation"] in rule["operations"]
                and not request.get("subResource")
            ):
                return True
        return False

    @staticmethod
    def _activation(request: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "request": json_to_cel(dict(request)),
            "object": json_to_cel(request.get("object")),
            "oldObject": json_to_cel(request.get("oldObject")),
        }

    @staticmethod
    def _true(program: Any, activation: Mapping[str, Any]) -> bool | None:
        """True or False, or None when the expression errors (or is not a bool)."""
        try:
            result = program.evaluate(activation)
        except CELEvalError:
            return None
        return bool(result) if isinstance(result, BoolType) else None

    def matches(self, request: Mapping[str, Any]) -> bool:
        return self.decide(request).matched

    def decide(self, request: Mapping[str, Any]) -> Decision:
        assert self.spec["failurePolicy"] == "Fail"
        if not self._rules_match(request):
            return Decision(matched=False, allowed=True)
        activation = self._activation(request)
        results = [self._true(c, activation) for c in self._conditions]
        if False in results:
            return Decision(matched=False, allowed=True)
        if None in results:
            return Decision(matched=True, allowed=False, message="match condition error")
        for program, message_program, message in self._validations:
            outcome = self._true(program, activation)
            if outcome is True:
                continue
            if outcome is None:
                return Decision(matched=True, allowed=False, message="expression error")
            text = message
            if message_program is not None:
                try:
                    text = str(message_program.evaluate(activation))
                except CELEvalError:
                    text = message
            return Decision(matched=True, allowed=False, message=text)
        return Decision(matched=True, allowed=True)


JANITOR_USER = service_account_username("preview-system", JANITOR)
PREVIEW_LABELS = {
    L.LABEL_MANAGED_BY: L.MANAGED_BY,
    L.LABEL_TYPE: L.TYPE_EPHEMERAL,
    L.LABEL_PROJECT: "lab",
    L.LABEL_PR: "7",
}


def _namespace(name: str, labels: Mapping[str, str] | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "uid": "4f2b1c9e-0000-4000-8000-000000000001",
        "resourceVersion": "1234",
    }
    if labels is not None:
        metadata["labels"] = {"kubernetes.io/metadata.name": name, **labels}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata,
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _request(
    username: str,
    operation: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    resource: str = "namespaces",
) -> dict[str, Any]:
    """An AdmissionRequest (admission/v1) as the API server builds it for a Namespace."""
    name = (old or new or {}).get("metadata", {}).get("name", "")
    return {
        "uid": "0b6a7a54-0000-4000-8000-000000000002",
        "kind": {"group": "", "version": "v1", "kind": "Namespace"},
        "resource": {"group": "", "version": "v1", "resource": resource},
        "requestKind": {"group": "", "version": "v1", "kind": "Namespace"},
        "requestResource": {"group": "", "version": "v1", "resource": resource},
        "name": name,
        "operation": operation,
        "userInfo": {
            "username": username,
            "uid": "5d3c0a11-0000-4000-8000-000000000003",
            "groups": ["system:serviceaccounts", "system:authenticated"],
        },
        "object": new,
        "oldObject": old,
        "dryRun": False,
        "options": {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"}
        if operation == "DELETE"
        else {"kind": "PatchOptions", "apiVersion": "meta.k8s.io/v1"},
    }


def delete(username: str, namespace: dict[str, Any]) -> dict[str, Any]:
    # DELETE: the namespace is in oldObject; object is null.
    return _request(username, "DELETE", namespace, None)


def patch(username: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    # A PATCH is admitted as UPDATE, with the patched object and the stored one.
    return _request(username, "UPDATE", old, new)


@pytest.fixture(scope="module")
def guard(policy: dict[str, Any]) -> Guard:
    return Guard(policy["spec"])


def test_the_janitor_may_delete_a_preview(guard: Guard) -> None:
    decision = guard.decide(delete(JANITOR_USER, _namespace("lab-pr-7", PREVIEW_LABELS)))
    assert decision == Decision(matched=True, allowed=True)


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("kube-system", {}),
        ("monitoring", {"app.kubernetes.io/managed-by": "pulumi"}),
        ("unlabelled", None),
        # Another tool's ephemeral namespaces (the original's), and our label on another type.
        ("other-pr-3", {L.LABEL_MANAGED_BY: "k8s-ee", L.LABEL_TYPE: L.TYPE_EPHEMERAL}),
        ("lab-main", {L.LABEL_MANAGED_BY: L.MANAGED_BY, L.LABEL_TYPE: "permanent"}),
        ("lab-pr-8", {L.LABEL_TYPE: L.TYPE_EPHEMERAL}),
        ("lab-pr-9", {L.LABEL_MANAGED_BY: L.MANAGED_BY}),
    ],
)
def test_the_janitor_may_not_delete_anything_else(
    guard: Guard, name: str, labels: dict[str, str] | None
) -> None:
    decision = guard.decide(delete(JANITOR_USER, _namespace(name, labels)))
    assert decision.matched
    assert not decision.allowed
    assert f"namespace {name} is not one" in decision.message


def test_the_janitor_may_change_a_preview_but_not_unmake_it(guard: Guard) -> None:
    preserved = _namespace("lab-pr-7", {**PREVIEW_LABELS, L.LABEL_PRESERVE: "true"})
    unpreserved = _namespace("lab-pr-7", PREVIEW_LABELS)
    assert guard.decide(patch(JANITOR_USER, preserved, unpreserved)).allowed
    stripped = _namespace("lab-pr-7", {L.LABEL_PR: "7"})
    decision = guard.decide(patch(JANITOR_USER, preserved, stripped))
    assert (decision.matched, decision.allowed) == (True, False)
    assert "of namespace lab-pr-7" in decision.message
    # Nor label another namespace into a preview: the stored object decides.
    system = _namespace("kube-system", {})
    decision = guard.decide(patch(JANITOR_USER, system, _namespace("kube-system", PREVIEW_LABELS)))
    assert (decision.allowed, decision.message.endswith("namespace kube-system is not one")) == (
        False,
        True,
    )


@pytest.mark.parametrize(
    "username",
    [
        "system:serviceaccount:kube-system:namespace-controller",
        "system:serviceaccount:preview-system:default",
        "kubernetes-admin",
    ],
)
def test_other_users_are_not_matched(guard: Guard, username: str) -> None:
    assert not guard.matches(delete(username, _namespace("kube-system", {})))
    assert not guard.matches(patch(username, _namespace("x", {}), _namespace("x", {"a": "b"})))


def test_only_deletes_and_updates_of_namespaces_are_matched(guard: Guard) -> None:
    system = _namespace("kube-system", {})
    assert not guard.matches(_request(JANITOR_USER, "CREATE", None, system))
    assert not guard.matches(_request(JANITOR_USER, "DELETE", system, None, resource="configmaps"))
    assert guard.matches(_request(JANITOR_USER, "UPDATE", system, system))


def test_an_expression_that_errors_rejects(policy: dict[str, Any]) -> None:
    """failurePolicy Fail: a request the expressions cannot judge is refused (here an
    UPDATE whose new object is missing, which no real request has)."""
    decision = Guard(policy["spec"]).decide(
        _request(JANITOR_USER, "UPDATE", _namespace("lab-pr-7", PREVIEW_LABELS), None)
    )
    assert (decision.matched, decision.allowed) == (True, False)


def test_a_namespace_the_preview_program_creates_is_one_the_janitor_may_delete(
    guard: Guard,
) -> None:
    """The namespace object of a real preview stack (labpreview, under the same mocks), not
    labels written here: the policy and the program agree on what a preview is."""
    fixture = REPO_ROOT / "infra/preview/tests/fixtures/valid/minimal.yaml"
    run = run_preview(fixture.read_text(), PullRequest(7, "feature/x", "ab" * 20))
    (namespace,) = [
        kubernetes_object(r) for r in run.kubernetes_objects() if r.inputs["kind"] == "Namespace"
    ]
    assert guard.decide(delete(JANITOR_USER, namespace)) == Decision(matched=True, allowed=True)
    preserved = {
        **namespace,
        "metadata": {
            **namespace["metadata"],
            "labels": {**namespace["metadata"]["labels"], L.LABEL_PRESERVE: "true"},
        },
    }
    assert guard.decide(patch(JANITOR_USER, preserved, namespace)).allowed


def test_the_runbook_shows_the_denial_as_the_janitor_logs_it(guard: Guard) -> None:
    """docs/runbooks/janitor.md quotes the janitor's log line for a refused delete: the
    API server's wording (kubernetes/apiserver v0.33.5, admission NewForbidden and
    pkg/admission/plugin/policy/validating/dispatcher.go) around this policy's message."""
    decision = guard.decide(delete(JANITOR_USER, _namespace("kube-system", {})))
    logged = (
        'delete namespace kube-system: 403 namespaces "kube-system" is forbidden: '
        f"ValidatingAdmissionPolicy '{POLICY_NAME}' with binding '{POLICY_NAME}' "
        f"denied request: {decision.message}"
    )
    runbook = " ".join((REPO_ROOT / "docs/runbooks/janitor.md").read_text().split())
    assert logged.replace("kube-system", "<name>") in runbook
