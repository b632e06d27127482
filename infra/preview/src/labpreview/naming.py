"""Names, labels and annotations of a preview environment.

The label and annotation keys are the original's (genesluna/k8s-ephemeral-environments
@ddd901c, `.github/actions/create-namespace/action.yml`), so its dashboards and habits
carry over: `k8s-ee/type=ephemeral`, `k8s-ee/project-id`, `k8s-ee/pr-number`,
`k8s-ee/branch`, `k8s-ee/commit-sha`; annotations `k8s-ee/created-at`,
`k8s-ee/last-updated`, `k8s-ee/repository`; preservation as the label `preserve=true` with
`k8s-ee/preserve-until` (`scripts/preserve-expiry.py`). `app.kubernetes.io/managed-by` is
ours (`lab-preview`): a namespace the original created is not ours to reuse or delete.
"""

from __future__ import annotations

import re

MANAGED_BY = "lab-preview"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_TYPE = "k8s-ee/type"
TYPE_EPHEMERAL = "ephemeral"
LABEL_PROJECT = "k8s-ee/project-id"
LABEL_PR = "k8s-ee/pr-number"
LABEL_BRANCH = "k8s-ee/branch"
LABEL_COMMIT = "k8s-ee/commit-sha"
LABEL_PRESERVE = "preserve"
ANNOTATION_CREATED = "k8s-ee/created-at"
ANNOTATION_UPDATED = "k8s-ee/last-updated"
ANNOTATION_REPOSITORY = "k8s-ee/repository"
ANNOTATION_EXPIRES = "k8s-ee/expires-at"
ANNOTATION_TTL_HOURS = "k8s-ee/ttl-hours"
ANNOTATION_SLEEP_AFTER_HOURS = "k8s-ee/sleep-after-hours"
ANNOTATION_SLEEPING_SINCE = "k8s-ee/sleeping-since"
ANNOTATION_PRESERVE_UNTIL = "k8s-ee/preserve-until"
ANNOTATION_PRESERVED_BY = "k8s-ee/preserved-by"
ANNOTATION_PRESERVE_WARNED = "k8s-ee/preserve-warning-sent"

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$")


class NamingError(ValueError):
    """An input that would make an invalid Kubernetes name or label."""


def namespace_name(project_id: str, pr_number: int) -> str:
    """`{projectId}-pr-{number}`: a DNS label (the original's name, kept for its users)."""
    if pr_number < 1:
        raise NamingError(f"PR number {pr_number}: expected a positive number")
    name = f"{project_id}-pr-{pr_number}"
    if not _DNS_LABEL.match(name):
        raise NamingError(f"namespace {name!r} is not a DNS label (max 63 characters)")
    return name


def app_host(app: str, namespace: str, domain: str) -> str:
    """The main app at `{namespace}.{domain}`, another app at `{app}-{namespace}.{domain}`.

    One DNS label in front of the preview domain, so the platform's one wildcard
    certificate (`*.{domain}`) covers every host.
    """
    label = namespace if app == "app" else f"{app}-{namespace}"
    if not _DNS_LABEL.match(label):
        raise NamingError(f"host label {label!r} is not a DNS label (max 63 characters)")
    return f"{label}.{domain}"


def sanitize_branch(branch: str) -> str:
    """A label value from a branch name: the original's rule (create-namespace/action.yml).

    Characters outside [A-Za-z0-9._-] become '-', runs of '-' collapse, leading
    non-alphanumerics go, the result is cut to 63 characters and trailing
    non-alphanumerics go; an empty result becomes `unknown`.
    """
    text = re.sub(r"[^a-zA-Z0-9._-]", "-", branch)
    text = re.sub(r"-+", "-", text)
    text = re.sub(r"^[^a-zA-Z0-9]*", "", text)
    text = text[:63]
    text = re.sub(r"[^a-zA-Z0-9]*$", "", text)
    return text or "unknown"


def check_commit(sha: str) -> str:
    if not _COMMIT.match(sha):
        raise NamingError(f"commit {sha!r}: expected 40 lowercase hex digits")
    return sha


def check_repository(repository: str) -> str:
    if not _REPOSITORY.match(repository):
        raise NamingError(f"repository {repository!r}: expected owner/name")
    return repository


def stack_name(pr_number: int) -> str:
    """One Pulumi stack per pull request."""
    return f"pr-{pr_number}"
