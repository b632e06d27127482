from __future__ import annotations

import pytest

from labhosts import image


def test_image_key_is_stable() -> None:
    assert image.image_key() == image.image_key()
    assert len(image.image_key()) == 12


def test_image_key_changes_with_the_package_list(monkeypatch: pytest.MonkeyPatch) -> None:
    before = image.image_key()
    monkeypatch.setattr(image, "PACKAGES", (*image.PACKAGES, "curl"))
    assert image.image_key() != before


def test_image_key_changes_with_the_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    before = image.image_key()
    monkeypatch.setattr(image, "RECIPE_VERSION", image.RECIPE_VERSION + 1)
    assert image.image_key() != before


def test_the_tree_has_what_ansible_and_the_roles_need() -> None:
    assert {"openssh-server", "python3", "python3-apt", "sudo", "systemd", "dbus"} <= set(
        image.PACKAGES
    )
