from __future__ import annotations

from collections.abc import Iterator

import pytest

from labjanitor.testing import fake_github, fake_kube


@pytest.fixture
def kube_server() -> Iterator[fake_kube.FakeKubeServer]:
    yield from fake_kube.running()


@pytest.fixture
def github_server() -> Iterator[fake_github.FakeGitHubServer]:
    yield from fake_github.running()
