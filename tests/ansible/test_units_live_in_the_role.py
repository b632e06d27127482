"""Each app's systemd units exist in one place, python_service's template: no app keeps a
copy that could drift from what is deployed."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_app_ships_a_unit_file() -> None:
    copies = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "apps").rglob("*")
        if path.suffix in {".service", ".socket", ".timer"} or path.name == "systemd"
    ]
    assert copies == []


# The apps that run on hosts outside the cluster (others, such as cluster jobs, do not).
DEVICE_APPS = ("dome", "daq", "picotemp")


def test_the_plays_deploy_every_device_app() -> None:
    plays = "\n".join(p.read_text() for p in (ROOT / "playbooks").glob("*.yml"))
    for app in DEVICE_APPS:
        assert (ROOT / "apps" / app / "pyproject.toml").is_file(), app
        assert f"python_service_package: {app}" in plays, app
