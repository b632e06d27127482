"""Where an alert's runbook lives: docs/runbooks/<file>.md, one `## AlertName` section each.

The URL points at the repository's default branch on GitHub, so a notification links to
the page a person can read on a phone; tests/test_runbooks.py checks that every rule in
infra/monitoring/rules/ carries one and that its file and heading exist.
"""

from __future__ import annotations

RUNBOOK_BASE = "https://github.com/example-lab/lab/blob/main/docs/runbooks/"


def runbook_url(runbook: str, alert: str) -> str:
    """The URL of `## <alert>` in docs/runbooks/<runbook>.md.

    GitHub's anchor for a heading `## IntegrationApiSlow` is the heading lower-cased.
    """
    return f"{RUNBOOK_BASE}{runbook}.md#{alert.lower()}"
