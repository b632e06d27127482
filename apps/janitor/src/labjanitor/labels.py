"""Label and annotation keys of preview namespaces, shared by the program and the janitor.

The keys are the original's (genesluna/k8s-ephemeral-environments @ddd901c:
`.github/actions/create-namespace/action.yml` for `k8s-ee/*` labels and annotations,
`scripts/preserve-expiry.py` for `preserve` and `k8s-ee/preserve-*`), so its dashboards and
habits carry over. `app.kubernetes.io/managed-by` is ours (`lab-preview`): a namespace the
original created, or anybody else, is never ours to reuse or delete.
"""

from __future__ import annotations

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
"""Last deploy + the config's `lifetime.ttl`: past it the environment is idle past its TTL."""
ANNOTATION_SLEEP_AFTER_HOURS = "k8s-ee/sleep-after-hours"
ANNOTATION_SLEEPING_SINCE = "k8s-ee/sleeping-since"
ANNOTATION_DEPLOY_STATUS = "k8s-ee/deploy-status"
"""`deployed` or `failed`, written by the deploy workflow after `pulumi up`."""
ANNOTATION_PRESERVE_UNTIL = "k8s-ee/preserve-until"
ANNOTATION_PRESERVED_BY = "k8s-ee/preserved-by"
ANNOTATION_PRESERVE_WARNED = "k8s-ee/preserve-warning-sent"

EPHEMERAL_SELECTOR = f"{LABEL_TYPE}={TYPE_EPHEMERAL}"
