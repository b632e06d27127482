"""What the janitor knows about a preview namespace and a pull request (no I/O here)."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from labjanitor import labels as L  # noqa: N812 (a namespace of constants)

_REPOSITORY = re.compile(r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$")


class PrState(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"
    UNKNOWN = "unknown"
    """GitHub says there is no such pull request (404): doubt, never a reason to delete."""
    ERROR = "error"
    """The lookup failed (network, 5xx, auth): doubt."""
    RATE_LIMITED = "rate-limited"
    """No call was made or it was refused for the rate limit: doubt."""
    NOT_ASKED = "not-asked"


class Action(enum.Enum):
    KEEP = "keep"
    DELETE = "delete"
    SLEEP = "sleep"
    UNPRESERVE = "unpreserve"


@dataclass(frozen=True)
class PullRef:
    repository: str
    number: int


@dataclass(frozen=True)
class PreviewNamespace:
    """A namespace labelled `k8s-ee/type=ephemeral`, read from its metadata."""

    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    created: datetime | None = None
    """metadata.creationTimestamp."""
    deleting: bool = False
    """metadata.deletionTimestamp is set: the API server is already deleting it."""

    @property
    def managed(self) -> bool:
        return (
            self.labels.get(L.LABEL_MANAGED_BY) == L.MANAGED_BY
            and self.labels.get(L.LABEL_TYPE) == L.TYPE_EPHEMERAL
        )

    @property
    def pull(self) -> PullRef | None:
        """The pull request this namespace previews, or None when its metadata is unusable."""
        repository = self.annotations.get(L.ANNOTATION_REPOSITORY, "")
        number = self.labels.get(L.LABEL_PR, "")
        if not _REPOSITORY.match(repository) or not number.isdigit() or int(number) < 1:
            return None
        return PullRef(repository.lower(), int(number))

    @property
    def preserved(self) -> bool:
        return self.labels.get(L.LABEL_PRESERVE, "").lower() == "true"

    def time(self, annotation: str) -> datetime | None:
        return parse_time(self.annotations.get(annotation, ""))

    @property
    def sleeping(self) -> bool:
        return L.ANNOTATION_SLEEPING_SINCE in self.annotations

    @property
    def sleep_after_hours(self) -> int | None:
        text = self.annotations.get(L.ANNOTATION_SLEEP_AFTER_HOURS, "")
        return int(text) if text.isdigit() and int(text) > 0 else None

    @property
    def deployed(self) -> bool:
        return self.annotations.get(L.ANNOTATION_DEPLOY_STATUS) == "deployed"


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 UTC timestamp (`2026-01-02T03:04:05Z`), or None."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Decision:
    namespace: str
    action: Action
    reason: str
    detail: str = ""
    pull: PullRef | None = None
    pr_state: PrState = PrState.NOT_ASKED
