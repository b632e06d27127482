"""Names of a preview environment; its label keys live in `labjanitor.labels` (shared)."""

from __future__ import annotations

import re

from labjanitor.labels import (
    ANNOTATION_CREATED as ANNOTATION_CREATED,
)
from labjanitor.labels import (
    ANNOTATION_DEPLOY_STATUS as ANNOTATION_DEPLOY_STATUS,
)
from labjanitor.labels import (
    ANNOTATION_EXPIRES as ANNOTATION_EXPIRES,
)
from labjanitor.labels import (
    ANNOTATION_PRESERVE_UNTIL as ANNOTATION_PRESERVE_UNTIL,
)
from labjanitor.labels import (
    ANNOTATION_PRESERVE_WARNED as ANNOTATION_PRESERVE_WARNED,
)
from labjanitor.labels import (
    ANNOTATION_PRESERVED_BY as ANNOTATION_PRESERVED_BY,
)
from labjanitor.labels import (
    ANNOTATION_REPOSITORY as ANNOTATION_REPOSITORY,
)
from labjanitor.labels import (
    ANNOTATION_SLEEP_AFTER_HOURS as ANNOTATION_SLEEP_AFTER_HOURS,
)
from labjanitor.labels import (
    ANNOTATION_SLEEPING_SINCE as ANNOTATION_SLEEPING_SINCE,
)
from labjanitor.labels import (
    ANNOTATION_UPDATED as ANNOTATION_UPDATED,
)
from labjanitor.labels import (
    LABEL_BRANCH as LABEL_BRANCH,
)
from labjanitor.labels import (
    LABEL_COMMIT as LABEL_COMMIT,
)
from labjanitor.labels import (
    LABEL_MANAGED_BY as LABEL_MANAGED_BY,
)
from labjanitor.labels import (
    LABEL_PR as LABEL_PR,
)
from labjanitor.labels import (
    LABEL_PRESERVE as LABEL_PRESERVE,
)
from labjanitor.labels import (
    LABEL_PROJECT as LABEL_PROJECT,
)
from labjanitor.labels import (
    LABEL_TYPE as LABEL_TYPE,
)
from labjanitor.labels import (
    MANAGED_BY as MANAGED_BY,
)
from labjanitor.labels import (
    TYPE_EPHEMERAL as TYPE_EPHEMERAL,
)

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
