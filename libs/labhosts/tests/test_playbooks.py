from __future__ import annotations

from pathlib import Path

import pytest

from labhosts.playbooks import PlaybookRun, find_workspace

OUTPUT = """
PLAY RECAP *********************************************************************
sbx-lab1                   : ok=1    changed=1    unreachable=0    failed=0    skipped=0
PLAY RECAP *********************************************************************
sbx-lab1                   : ok=62   changed=0    unreachable=0    failed=0    skipped=2
sbx-pi1                    : ok=65   changed=3    unreachable=1    failed=2    skipped=6
"""


def test_recap_reads_the_last_recap_per_host() -> None:
    recap = PlaybookRun(0, OUTPUT, 1.0).recap()
    assert recap == {
        "sbx-lab1": {"ok": 62, "changed": 0, "unreachable": 0, "failed": 0},
        "sbx-pi1": {"ok": 65, "changed": 3, "unreachable": 1, "failed": 2},
    }


def test_recap_of_a_run_that_never_got_there_is_empty() -> None:
    assert PlaybookRun(4, "ERROR! the playbook could not be found", 0.1).recap() == {}


def test_workspace_is_found_from_below(tmp_path: Path) -> None:
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    (tmp_path / "playbooks").mkdir()
    below = tmp_path / "tests" / "ansible"
    below.mkdir(parents=True)
    assert find_workspace(below) == tmp_path


def test_no_workspace_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"ansible\.cfg"):
        find_workspace(tmp_path)
