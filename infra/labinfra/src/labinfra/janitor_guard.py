"""The cluster's own guard on the preview janitor: a ValidatingAdmissionPolicy and its
binding that refuse any DELETE or UPDATE (PATCH included) of a Namespace by the janitor's
service account unless the namespace carries the preview program's labels.

Why: Kubernetes RBAC cannot limit `delete namespaces` by label, so the janitor's ClusterRole
(labinfra.previews.janitor_rules) lets its token delete kube-system as easily as a preview.
The janitor's code refuses unmanaged namespaces (labjanitor.core); this makes the API server
refuse them too, whatever the janitor's code or a leaked token asks.

Upstream facts, read at the versions the lab runs (k3s v1.33.5 = Kubernetes v1.33.5):
- ValidatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1) from Kubernetes 1.30, its
  feature gate stable and on by default in 1.30-1.31 and then removed (kubernetes/website,
  content/en/docs/reference/command-line-tools-reference/feature-gates/
  ValidatingAdmissionPolicy.md: stages alpha 1.26, beta 1.28, stable 1.30, `removed: true`).
- The fields (kubernetes/api @ v0.33.5, the Go types of Kubernetes v1.33.5,
  admissionregistration/v1/types.go): `failurePolicy` Fail|Ignore; `matchConstraints.
  resourceRules`; `matchConditions` (any false: the policy is skipped; an error with
  failurePolicy Fail: the request is rejected); `validations[].expression`, `message`,
  `messageExpression`, `reason` (Forbidden gives HTTP 403; unset is Invalid, 422);
  binding `policyName` and `validationActions` (Deny). In the expressions `object` is
  "null for DELETE requests" and `oldObject` "null for CREATE requests"; `request` is the
  AdmissionRequest (admission/v1/types.go: `userInfo.username`, `name`, `operation`, whose
  values are CREATE, UPDATE, DELETE, CONNECT).
- A PATCH is admitted as an UPDATE (kubernetes/apiserver @ v0.33.5,
  pkg/endpoints/handlers/patch.go: `admission.Update`).
- The denial the client sees (kubernetes/apiserver @ v0.33.5,
  pkg/admission/plugin/policy/validating/dispatcher.go): `namespaces "<name>" is forbidden:
  ValidatingAdmissionPolicy '<policy>' with binding '<binding>' denied request: <message>`.
- A service account's username is `system:serviceaccount:<namespace>:<name>`
  (kubernetes/apiserver @ v0.33.5, pkg/authentication/serviceaccount/util.go: MakeUsername).
- Label maps are readable in the expressions (kubernetes/apiserver @ v0.33.5,
  pkg/admission/plugin/cel/compile_test.go: `'test' in namespaceObject.metadata.labels`).
"""

from __future__ import annotations

from typing import Any

from labjanitor.labels import LABEL_MANAGED_BY, LABEL_TYPE, MANAGED_BY, TYPE_EPHEMERAL

POLICY_NAME = "preview-janitor-namespaces"
"""The ValidatingAdmissionPolicy's (and its binding's) name: it appears in every denial."""

PREVIEW_LABELS = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_TYPE: TYPE_EPHEMERAL}
"""What makes a namespace a preview the janitor may touch: the labels the preview program
sets (labpreview.naming re-exports the same labjanitor.labels constants)."""


def service_account_username(namespace: str, name: str) -> str:
    """The username the API server gives a service account's token."""
    return f"system:serviceaccount:{namespace}:{name}"


def _cel_string(text: str) -> str:
    """A CEL string literal (single-quoted); the label keys and values need no escapes."""
    if "'" in text or "\\" in text:
        raise ValueError(f"{text!r} cannot be written as a plain CEL string literal")
    return f"'{text}'"


def _is_preview(var: str) -> str:
    """CEL: the namespace in `var` carries every preview label with its value."""
    checks = [f"has({var}.metadata.labels)"]
    for key, value in PREVIEW_LABELS.items():
        label = f"{var}.metadata.labels[{_cel_string(key)}]"
        checks.append(
            f"{_cel_string(key)} in {var}.metadata.labels && {label} == {_cel_string(value)}"
        )
    return " && ".join(f"({c})" if "&&" in c else c for c in checks)


def _labels_text() -> str:
    return ", ".join(f"{k}={v}" for k, v in PREVIEW_LABELS.items())


def policy_spec(username: str) -> dict[str, Any]:
    """The ValidatingAdmissionPolicy's spec: the janitor may delete or change a Namespace only
    if it is a preview, and may not take a preview's labels away (then delete it)."""
    return {
        # An expression that errors (or a policy the API server cannot compile) rejects the
        # janitor's request: on doubt, nothing is deleted.
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    # PATCH arrives as UPDATE; the janitor's RBAC allows patch and delete.
                    "operations": ["DELETE", "UPDATE"],
                    "resources": ["namespaces"],
                }
            ]
        },
        # Only the janitor's own requests: the preview program, people and controllers are
        # not matched and keep what RBAC gives them.
        "matchConditions": [
            {
                "name": "preview-janitor",
                "expression": f"request.userInfo.username == {_cel_string(username)}",
            }
        ],
        "validations": [
            {
                # DELETE: `object` is null, the namespace is `oldObject`; UPDATE: `oldObject`
                # is the namespace as it is now.
                "expression": _is_preview("oldObject"),
                "message": (
                    "the preview janitor may only delete or change preview namespaces "
                    f"(labelled {_labels_text()})"
                ),
                "messageExpression": (
                    "'the preview janitor may only delete or change preview namespaces "
                    f"(labelled {_labels_text()}): namespace ' + oldObject.metadata.name "
                    "+ ' is not one'"
                ),
                "reason": "Forbidden",
            },
            {
                # UPDATE: the namespace stays a preview after the change.
                "expression": f"request.operation != 'UPDATE' || {_is_preview('object')}",
                "message": "the preview janitor may not remove a preview namespace's labels",
                "messageExpression": (
                    "'the preview janitor may not remove the preview labels "
                    f"({_labels_text()}) of namespace ' + oldObject.metadata.name"
                ),
                "reason": "Forbidden",
            },
        ],
    }


def binding_spec() -> dict[str, Any]:
    """The binding that puts the policy in force on every request it matches (no params)."""
    return {"policyName": POLICY_NAME, "validationActions": ["Deny"]}
