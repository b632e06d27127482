"""`pack_violations`: the whole pack over resources recorded by a mocked run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labpolicies.pack import pack_violations


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    inputs: Mapping[str, Any]

    @property
    def urn(self) -> str:
        return f"urn:pulumi:test::test::{self.type}::{self.name}"


def _pod(name: str, image: str) -> Resource:
    container = {
        "name": "app",
        "image": image,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
    }
    return Resource(
        "kubernetes:core/v1:Pod",
        name,
        {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [container]}},
    )


def test_each_violation_names_its_policy_and_resource() -> None:
    found = pack_violations([_pod("floating", "registry.lab.internal/lab/x:latest")])
    assert found
    assert all(line.startswith(f"{line.split(':')[0]}: floating: ") for line in found)
    assert any(
        line.startswith("pinned-images-from-allowed-registries: floating: ") for line in found
    )


def test_a_pinned_image_is_not_reported_as_unpinned() -> None:
    found = pack_violations([_pod("pinned", "registry.lab.internal/lab/x:1.2.3")])
    assert not [line for line in found if line.startswith("pinned-images")]
    assert pack_violations([]) == []
