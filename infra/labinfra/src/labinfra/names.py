"""Names and labels shared by every Kubernetes object the lab creates.

The recommended labels (app.kubernetes.io/*) are what the policy pack checks and what
dashboards and selectors key on, so they are built in one place.
"""

from __future__ import annotations

PART_OF = "lab"
MANAGED_BY = "pulumi"


def recommended_labels(
    name: str, component: str, *, version: str | None = None, instance: str | None = None
) -> dict[str, str]:
    """Labels for an object of the app `name` playing the role `component`."""
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": instance or name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if version:
        labels["app.kubernetes.io/version"] = label_value(version)
    return labels


def selector_labels(name: str, instance: str | None = None) -> dict[str, str]:
    """The immutable subset used in Deployment selectors (never includes the version)."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance or name}


def label_value(text: str) -> str:
    """A label value from free text: at most 63 characters of [A-Za-z0-9-_.]."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in text)
    return cleaned.strip("-_.")[:63].rstrip("-_.")


def dns_name(text: str) -> str:
    """An RFC 1123 name (lowercase, digits, '-') of at most 63 characters."""
    lowered = "".join(c if c.isalnum() else "-" for c in text.lower())
    while "--" in lowered:
        lowered = lowered.replace("--", "-")
    return lowered.strip("-")[:63].rstrip("-")
