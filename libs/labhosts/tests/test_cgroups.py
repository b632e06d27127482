from __future__ import annotations

from pathlib import Path

from labhosts.cgroups import host_cgroups, our_cgroups, remove_cgroup


def fake_hierarchies(root: Path, *names: str) -> None:
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "cgroup.procs").write_text("")


def test_each_host_gets_a_cgroup_in_every_hierarchy_present(tmp_path: Path) -> None:
    fake_hierarchies(tmp_path, "systemd", "unified")
    made = host_cgroups("sbx-pi1", root=tmp_path)
    assert made == [tmp_path / "systemd/labhosts-sbx-pi1", tmp_path / "unified/labhosts-sbx-pi1"]
    assert host_cgroups("sbx-pi1", root=tmp_path) == made  # again: no error, same groups


def test_missing_hierarchies_are_skipped(tmp_path: Path) -> None:
    fake_hierarchies(tmp_path, "unified")
    assert host_cgroups("a", root=tmp_path) == [tmp_path / "unified/labhosts-a"]


def test_only_our_cgroups_are_found_and_removed_deepest_first(tmp_path: Path) -> None:
    fake_hierarchies(tmp_path, "systemd")
    ours = host_cgroups("a", root=tmp_path)[0]
    (ours / "payload" / "system.slice").mkdir(parents=True)
    (tmp_path / "systemd" / "someone-else").mkdir()
    assert our_cgroups(root=tmp_path) == [ours]
    remove_cgroup(ours)
    assert not ours.exists()
    assert (tmp_path / "systemd" / "someone-else").is_dir()
