"""The runbook convention (docs/runbooks/README.md), over every rule file in the repository.

Every alert in infra/monitoring/rules/*.rules.yml links a runbook section that exists: the
file under docs/runbooks/ and a heading with that GitHub anchor, whose section gives
concrete steps with at least one command (a fenced block or an inline `command args`).
Runs against the files as committed; no rule file is exempt.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = sorted((ROOT / "infra" / "monitoring" / "rules").glob("*.rules.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks"
URL = re.compile(
    r"^https://github\.com/example-lab/lab/blob/main/docs/runbooks/(?P<file>[\w.-]+\.md)"
    r"#(?P<anchor>[\w-]+)$"
)

COMMAND = re.compile(r"`[a-z][\w.-]* [^`]+`")
"""An inline command: `kubectl -n x get pods` (a word, a space, arguments)."""


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower-case, punctuation dropped, spaces -> -."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def sections(markdown: str) -> dict[str, str]:
    """Anchor -> body of each heading (until the next heading of the same or higher level)."""
    out: dict[str, str] = {}
    seen: dict[str, int] = {}
    lines = markdown.splitlines()
    fenced = False
    heads: list[tuple[int, int, str]] = []
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"^(#{1,6})\s+(.*)$", line)
        if match:
            heads.append((i, len(match.group(1)), match.group(2)))
    for n, (i, level, title) in enumerate(heads):
        end = next((j for j, lv, _ in heads[n + 1 :] if lv <= level), len(lines))
        anchor = github_anchor(title)
        if anchor in seen:  # GitHub numbers repeated headings
            seen[anchor] += 1
            anchor = f"{anchor}-{seen[anchor]}"
        else:
            seen[anchor] = 0
        out[anchor] = "\n".join(lines[i + 1 : end])
    return out


def alerts() -> list[tuple[str, dict[str, object]]]:
    found = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found.append((f"{path.name}:{rule['alert']}", rule))
    return found


def test_anchor_algorithm_matches_github() -> None:
    assert github_anchor("IntegrationApiSlow") == "integrationapislow"
    assert github_anchor("Check connectivity") == "check-connectivity"
    assert github_anchor("Runbook: integrations (Home Assistant, TrueNAS)") == (
        "runbook-integrations-home-assistant-truenas"
    )
    assert list(sections("# A\n## B\ntext\n## B\nmore\n")) == ["a", "b", "b-1"]


def test_there_are_rules_to_check() -> None:
    names = {n.split(":")[1] for n, _ in alerts()}
    assert {"PicoDown", "IntegrationErrorBudgetBurn", "ProxmoxGuestNotBackedUp"} <= names


@pytest.mark.parametrize(("where", "rule"), alerts(), ids=[n for n, _ in alerts()])
def test_every_alert_links_an_existing_runbook_section(where: str, rule: dict[str, object]) -> None:
    annotations = rule.get("annotations") or {}
    assert isinstance(annotations, dict)
    url = annotations.get("runbook_url")
    assert isinstance(url, str), f"{where}: no annotations.runbook_url"
    match = URL.match(url)
    assert match, f"{where}: runbook_url {url!r} does not follow docs/runbooks/README.md"
    runbook = RUNBOOKS / match.group("file")
    assert runbook.is_file(), f"{where}: {runbook.relative_to(ROOT)} does not exist"
    found = sections(runbook.read_text(encoding="utf-8"))
    anchor = match.group("anchor")
    assert anchor in found, f"{where}: no heading with anchor #{anchor} in {runbook.name}"
    body = found[anchor]
    assert len(body.strip()) > 80, f"{where}: the section #{anchor} says almost nothing"
    assert "```" in body or COMMAND.search(body), (
        f"{where}: the section #{anchor} gives no command to run"
    )


def test_a_missing_section_is_caught(tmp_path: Path) -> None:
    """The checks above would fail on a URL to a heading that is not there."""
    page = "# Runbook\n\n## SomethingElse\n\nSteps.\n```sh\ntrue\n```\n"
    assert "picodown" not in sections(page)
    assert "somethingelse" in sections(page)
    assert COMMAND.search("run `kubectl -n monitoring get pods` first")
    assert not COMMAND.search("the `picotemp` exporter")
