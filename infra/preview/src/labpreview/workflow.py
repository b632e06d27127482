"""The preview workflows' logic, as `lab-preview` subcommands (tested as Python).

The workflow files only wire events to these commands; what is allowed, what a comment
says and what a stack is configured with is decided here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from labpreview import naming as n
from labpreview.config import ConfigError, load_config
from labpreview.plan import build_slug, image_for

MARKER = "<!-- k8s-ee-pr-env -->"
"""The original's sticky-comment marker (.github/actions/pr-comment/action.yml @ddd901c)."""
STATES = ("deployed", "failed", "destroyed", "preserved")
TRUSTED = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
MAX_PRESERVE_HOURS = 48
MAX_PRESERVED = 3
PRESERVE_WARNING = timedelta(hours=1)
WARNING_MARKER = "<!-- k8s-ee-preserve-warning -->"


# --- organisation allow-list ------------------------------------------------------------


@dataclass(frozen=True)
class AccessDecision:
    allowed: bool
    reason: str


def check_access(policy: Mapping[str, Any] | None, repository: str) -> AccessDecision:
    """The original's allow-list (`.github/config/allowed-orgs.json` and its schema; the
    check in `.github/actions/validate-config/action.yml` @ddd901c): modes `allowlist`,
    `denylist`, `disabled`; `organizations` (organisation or user names) and
    `repositories` (owner/name: a per-repository entry that allows in allowlist mode and
    denies in denylist mode even when its owner is not listed); case-insensitive. An
    empty allowlist denies everyone. Unlike the original, a missing file denies too."""
    if policy is None:
        return AccessDecision(False, "no allow-list: nothing is allowed")
    mode = str(policy.get("mode", "allowlist"))
    owner = repository.split("/", 1)[0].lower()
    orgs = {str(o).lower() for o in policy.get("organizations") or []}
    repos = {str(r).lower() for r in policy.get("repositories") or []}
    listed_repo = repository.lower() in repos
    listed_org = owner in orgs
    if mode == "disabled":
        return AccessDecision(True, "access control is disabled")
    if mode == "allowlist":
        if listed_repo:
            return AccessDecision(True, f"repository {repository} is allowed")
        if listed_org:
            return AccessDecision(True, f"organisation {owner} is allowed")
        return AccessDecision(False, f"{repository} is not on the allow-list")
    if mode == "denylist":
        if listed_repo or listed_org:
            return AccessDecision(False, f"{repository} is on the deny-list")
        return AccessDecision(True, f"{repository} is not on the deny-list")
    return AccessDecision(False, f"unknown mode {mode!r}: nothing is allowed")


def check_pull_access(policy: Mapping[str, Any] | None, base: str, head: str) -> AccessDecision:
    """The base repository (the tenant) and where the code comes from (the head repository:
    a fork's owner is its author or the author's organisation) must both be allowed."""
    for repository in dict.fromkeys([base, head or base]):
        decision = check_access(policy, repository)
        if not decision.allowed:
            return decision
    return check_access(policy, base)


# --- forks: the maintainer's label ---------------------------------------------------------


def deploy_gate(
    base: str, head: str, labels: Iterable[str], label: str = "preview"
) -> AccessDecision:
    """Pull requests from forks deploy only once a maintainer put `label` on them (the label
    is read from GitHub by the privileged job, never from the untrusted build)."""
    if head and head.lower() != base.lower() and label not in set(labels):
        return AccessDecision(False, f"from the fork {head}: waits for the {label!r} label")
    return AccessDecision(True, "same repository" if head.lower() == base.lower() else "labelled")


# --- the sticky comment ----------------------------------------------------------------------


@dataclass(frozen=True)
class CommentFacts:
    state: str
    namespace: str
    commit: str
    branch: str
    url: str = ""
    grafana_url: str = ""
    run_url: str = ""
    merged: bool = False
    preserve_until: str = ""
    urls: Mapping[str, str] | None = None


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell and free of HTML (branch names are input)."""
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("`", "'")
        .replace("\n", " ")
    )


def render_comment(facts: CommentFacts, now: datetime) -> str:
    """The one sticky comment's body for a state (same marker and states as the original)."""
    if facts.state not in STATES:
        raise ValueError(f"state {facts.state!r}: expected one of {', '.join(STATES)}")
    stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = {
        "deployed": "## Preview environment ready",
        "failed": "## Preview environment failed",
        "destroyed": "## Preview environment destroyed",
        "preserved": "## Preview environment preserved",
    }[facts.state]
    rows = [("Status", facts.state), ("Namespace", f"`{_cell(facts.namespace)}`")]
    if facts.state == "deployed":
        rows.insert(1, ("Preview", f"[{_cell(facts.url)}]({facts.url})"))
        for name, url in sorted((facts.urls or {}).items()):
            if url != facts.url:
                rows.insert(2, (_cell(name), f"[{_cell(url)}]({url})"))
        if facts.grafana_url:
            rows.append(("Grafana", f"[dashboard]({facts.grafana_url})"))
    rows += [("Commit", f"`{facts.commit[:12]}`"), ("Branch", f"`{_cell(facts.branch)}`")]
    if facts.state in ("destroyed", "preserved"):
        rows.append(("Merged", "yes" if facts.merged else "no"))
    if facts.state == "preserved" and facts.preserve_until:
        rows.append(("Preserved until", _cell(facts.preserve_until)))
    rows.append(("Updated", stamp))
    lines = [MARKER, title, "", "| | |", "|---|---|"]
    lines += [f"| **{k}** | {v} |" for k, v in rows]
    if facts.state == "failed" and facts.run_url:
        lines += ["", f"[Workflow logs]({facts.run_url})"]
    if facts.state == "preserved":
        lines += [
            "",
            "Kept after the pull request closed until the time above; the janitor "
            "removes it then. `/preserve` again extends it.",
        ]
    if facts.state == "deployed":
        lines += ["", "Comment `/preserve [hours]` to keep it after the PR closes (up to 48 h)."]
    return "\n".join(lines) + "\n"


def upsert_comment(github: Any, repository: str, number: int, body: str) -> int:
    """Edit the comment carrying the marker (all pages searched), or create it."""
    for comment in github.list_comments(repository, number):
        if MARKER in (comment.get("body") or ""):
            github.update_comment(repository, int(comment["id"]), body)
            return int(comment["id"])
    return int(github.create_comment(repository, number, body)["id"])


# --- /preserve ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreserveRequest:
    hours: int


class PreserveRefusedError(ValueError):
    """Why a /preserve comment is not honoured (said back in a comment)."""


def parse_preserve(
    body: str, association: str, max_hours: int = MAX_PRESERVE_HOURS
) -> PreserveRequest:
    """`/preserve [hours]` on the first line, only from OWNER, MEMBER or COLLABORATOR (the
    original had no permission check at all); hours default to and are capped at
    `max_hours`."""
    first = (body.strip().splitlines() or [""])[0].split()
    if not first or first[0] != "/preserve":
        raise PreserveRefusedError("not a /preserve command")
    if association.upper() not in TRUSTED:
        raise PreserveRefusedError(
            f"only the repository's owners, members and collaborators can preserve "
            f"(author association: {association or 'none'})"
        )
    if len(first) > 2:
        raise PreserveRefusedError("usage: /preserve [hours]")
    hours = max_hours
    if len(first) == 2:
        if not first[1].isdigit() or not 1 <= int(first[1]) <= max_hours:
            raise PreserveRefusedError(f"hours must be a whole number from 1 to {max_hours}")
        hours = int(first[1])
    return PreserveRequest(hours)


@dataclass(frozen=True)
class PreserveDecision:
    until: datetime
    extended: bool


def decide_preserve(
    request: PreserveRequest,
    namespace: str,
    preserved: Mapping[str, datetime | None],
    now: datetime,
    max_preserved: int = MAX_PRESERVED,
) -> PreserveDecision:
    """`preserved` maps each currently preserved namespace to its deadline. Repeating
    extends (from now, never beyond the cap); a new one needs a free place."""
    live = {name for name, until in preserved.items() if until is None or until > now}
    extended = namespace in live
    if not extended and len(live) >= max_preserved:
        raise PreserveRefusedError(
            f"{len(live)} environments are preserved already (at most {max_preserved}): "
            + ", ".join(sorted(live))
        )
    return PreserveDecision(now + timedelta(hours=request.hours), extended)


def preserve_warnings(
    namespaces: Iterable[Mapping[str, Any]], now: datetime, ahead: timedelta = PRESERVE_WARNING
) -> list[tuple[str, str, int, datetime]]:
    """(namespace, repository, PR, deadline) of preserved environments expiring within
    `ahead` that were not warned yet (each preservation is warned once)."""
    from labjanitor.core.model import parse_time

    due = []
    for ns in namespaces:
        meta = ns.get("metadata") or {}
        labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
        if labels.get(n.LABEL_PRESERVE) != "true" or labels.get(n.LABEL_MANAGED_BY) != n.MANAGED_BY:
            continue
        until = parse_time(notes.get(n.ANNOTATION_PRESERVE_UNTIL, ""))
        if until is None or notes.get(n.ANNOTATION_PRESERVE_WARNED) == "true":
            continue
        number = labels.get(n.LABEL_PR, "")
        if now < until <= now + ahead and number.isdigit():
            due.append((meta["name"], notes.get(n.ANNOTATION_REPOSITORY, ""), int(number), until))
    return due


# --- stack configuration and images --------------------------------------------------------


def stack_config(
    base: Mapping[str, Any],
    k8s_ee: str,
    pr: int,
    branch: str,
    commit: str,
    created_at: datetime,
    deployed_at: datetime,
    existing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A PR's stack file: the shared one plus the PR's keys. What else an `existing` file
    holds is kept: `pulumi stack select --create` writes the passphrase provider's
    `encryptionsalt` there (or `secretsprovider`/`encryptedkey`), and the stack's secrets
    cannot be read without it."""
    document = {k: v for k, v in (existing or {}).items() if k != "config"}
    config = dict(base.get("config") or {})
    config.update(
        {
            "lab-preview:previewConfig": k8s_ee,
            "lab-preview:prNumber": pr,
            "lab-preview:branch": branch,
            "lab-preview:commitSha": n.check_commit(commit),
            "lab-preview:createdAt": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lab-preview:deployedAt": deployed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    return {**document, "config": config}


def image_builds(config_path: Path, registry: str, commit: str) -> list[dict[str, str]]:
    """One build per distinct (context, Dockerfile), with the reference the program uses."""
    from labpreview.plan import Context

    config = load_config(config_path)
    context = Context(
        0 + 1,
        "x",
        n.check_commit(commit),
        "a/b",
        "x",
        registry,
        datetime.now(UTC),
        datetime.now(UTC),
    )
    builds: dict[str, dict[str, str]] = {}
    for app in config.all_apps():
        builds.setdefault(
            build_slug(app),
            {
                "context": app.image.context,
                "dockerfile": str(Path(app.image.context) / app.image.dockerfile),
                "image": image_for(app, config, context),
            },
        )
    return list(builds.values())


# --- argparse wiring -----------------------------------------------------------------------


def _now(text: str | None) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else datetime.now(UTC)


def _cmd_access(args: argparse.Namespace) -> int:
    policy = json.loads(args.policy.read_text(encoding="utf-8")) if args.policy.is_file() else None
    decision = check_pull_access(policy, args.repository, args.head or args.repository)
    print(f"access: {'allowed' if decision.allowed else 'denied'}: {decision.reason}")
    return 0 if decision.allowed else 3


def _cmd_gate(args: argparse.Namespace) -> int:
    decision = deploy_gate(
        args.repository, args.head, args.labels.split(",") if args.labels else [], args.label
    )
    print(f"gate: {'deploy' if decision.allowed else 'wait'}: {decision.reason}")
    return 0 if decision.allowed else 3


def _cmd_comment(args: argparse.Namespace) -> int:
    facts = CommentFacts(
        state=args.state,
        namespace=args.namespace,
        commit=args.commit,
        branch=args.branch,
        url=args.url or "",
        grafana_url=args.grafana_url or "",
        run_url=args.run_url or "",
        merged=args.merged,
        preserve_until=args.preserve_until or "",
        urls=json.loads(args.urls) if args.urls else None,
    )
    body = render_comment(facts, _now(args.now))
    if args.dry_run:
        sys.stdout.write(body)
        return 0
    from labjanitor.github import GitHubClient, GitHubError

    token = _token()
    with GitHubClient(token, base_url=args.api_url) as github:
        try:
            comment_id = upsert_comment(github, args.repository, args.pr, body)
        except GitHubError as exc:
            print(f"comment: {exc}", file=sys.stderr)
            return 1
    print(f"comment: {comment_id}")
    return 0


def _token() -> str:
    import os

    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise SystemExit("lab-preview: GITHUB_TOKEN is not set")
    return token


def _cmd_preserve_check(args: argparse.Namespace) -> int:
    try:
        request = parse_preserve(args.body, args.association, args.max_hours)
    except PreserveRefusedError as exc:
        print(f"preserve: refused: {exc}")
        return 3
    print(f"hours={request.hours}")
    return 0


def _cmd_stack_config(args: argparse.Namespace) -> int:
    base = yaml.safe_load(args.base.read_text(encoding="utf-8")) or {}
    try:
        load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    created = _now(args.created_at)
    existing = (
        yaml.safe_load(args.out.read_text(encoding="utf-8")) or {} if args.out.is_file() else {}
    )
    document = stack_config(
        base,
        args.config.read_text(encoding="utf-8"),
        args.pr,
        args.branch,
        args.commit,
        created,
        _now(args.now),
        existing,
    )
    args.out.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    print(f"stack-config: {args.out}")
    return 0


def _cmd_images(args: argparse.Namespace) -> int:
    try:
        builds = image_builds(args.config, args.registry, args.commit)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(json.dumps(builds))
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from labinfra.offline.harness import ProgramFailedError
    from labpreview.offline import PullRequest, render_preview, run_preview

    try:
        load_config(args.file)
        n.check_commit(args.commit)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem.render(str(args.file)), file=sys.stderr)
        return 2
    except n.NamingError as exc:
        print(f"lab-preview render: {exc}", file=sys.stderr)
        return 2
    pr = PullRequest(args.pr, args.branch, args.commit)
    try:
        run = run_preview(args.file.read_text(encoding="utf-8"), pr, config_file=str(args.file))
    except ProgramFailedError as exc:
        print(f"lab-preview render: {exc}: {exc.__cause__}", file=sys.stderr)
        return 2
    files = render_preview(run, args.out)
    print(f"{run.project}/{run.stack}: {len(files)} files in {args.out / run.project / run.stack}")
    return 0


def pr_facts(
    github: Any, repository: str, event_sha: str, claimed: Mapping[str, Any], label: str
) -> dict[str, str]:
    """What the privileged deploy job may trust about the PR behind a `workflow_run`.

    `claimed` comes from the unprivileged build's artifact (PR code could have written
    it): only its number is used, to ask GitHub for the PR, whose head commit must be the
    commit the build ran on (`workflow_run.head_sha`, from the event). Labels, head
    repository, branch and state come from GitHub, never from the artifact."""
    number = int(claimed["number"])
    pr = github.get_pull(repository, number)
    if pr.head_sha != event_sha:
        raise PreserveRefusedError(
            f"PR #{number} head is {pr.head_sha[:12]}, the build ran on {event_sha[:12]}"
        )
    gate = deploy_gate(repository, pr.head_repository, pr.labels, label)
    return {
        "number": str(number),
        "head_repository": pr.head_repository,
        "state": "merged" if pr.merged else pr.state,
        "deploy": "true" if gate.allowed else "false",
        "gate": gate.reason,
    }


# --- commit status ----------------------------------------------------------------------

STATUS_CONTEXT = "k8s-ee/deploy-status"
"""The commit status the deploy job keeps on the PR's head commit (one context: each new
status replaces the last in GitHub's checks list). The namespace annotation of the same
name (labjanitor.labels.ANNOTATION_DEPLOY_STATUS) is a different thing."""
STATUS_STATES = ("pending", "success", "failure", "error")
"""GitHub's states for a commit status ("Create a commit status", REST API 2022-11-28)."""
STATUS_DESCRIPTION_MAX = 140
"""GitHub answers 422 "description is too long (maximum is 140 characters)" past this."""
_SHA = re.compile(r"^[0-9a-f]{40}$")


class StatusRefusedError(ValueError):
    """The status would be wrong or refused by GitHub; nothing was sent."""


def status_body(state: str, sha: str, target_url: str, description: str) -> dict[str, str]:
    """The commit status to post, checked before anything is sent: a full commit SHA (a
    status on a branch name would land on whatever the branch points at by then), a known
    state, and for `success` the preview's URL, which is what the status links to."""
    if not _SHA.match(sha):
        raise StatusRefusedError(f"sha: {sha!r} is not a full 40-character commit SHA")
    if state not in STATUS_STATES:
        raise StatusRefusedError(f"state: {state!r} is not one of {', '.join(STATUS_STATES)}")
    if target_url and not target_url.startswith(("https://", "http://")):
        raise StatusRefusedError(f"target-url: {target_url!r} is not an http(s) URL")
    if state == "success" and not target_url:
        raise StatusRefusedError("target-url: a successful deploy links to its preview URL")
    if len(description) > STATUS_DESCRIPTION_MAX:
        description = description[: STATUS_DESCRIPTION_MAX - 1] + "\u2026"
    body = {"state": state, "context": STATUS_CONTEXT}
    if target_url:
        body["target_url"] = target_url
    if description:
        body["description"] = description
    return body


def post_status(
    github: Any, repository: str, sha: str, state: str, target_url: str, description: str
) -> dict[str, Any]:
    body = status_body(state, sha, target_url, description)
    result: dict[str, Any] = github.create_status(
        repository,
        sha,
        body["state"],
        context=body["context"],
        target_url=body.get("target_url", ""),
        description=body.get("description", ""),
    )
    return result


def _cmd_status(args: argparse.Namespace) -> int:
    from labjanitor.github import GitHubClient, GitHubError

    try:
        status_body(args.state, args.sha, args.target_url, args.description)
    except StatusRefusedError as exc:
        print(f"status: refused: {exc}", file=sys.stderr)
        return 2
    with GitHubClient(_token(), base_url=args.api_url) as github:
        try:
            posted = post_status(
                github, args.repository, args.sha, args.state, args.target_url, args.description
            )
        except GitHubError as exc:
            print(f"status: {exc}", file=sys.stderr)
            return 1
    print(f"status: {posted.get('context')} {posted.get('state')} on {args.sha[:12]}")
    return 0


# --- the namespace's deploy status (read by the janitor) -------------------------------

DEPLOY_STATUSES = ("deployed", "failed")


def _cmd_mark_deploy(args: argparse.Namespace) -> int:
    """Annotate the PR's namespace `k8s-ee/deploy-status: deployed|failed` after `pulumi
    up`: the janitor tells a closed PR's environment that deployed (reason closed/merged)
    from one whose deploy failed (orphaned) by it (labjanitor.core.decide)."""
    from labjanitor.kube import Kube, KubeError, api_client

    if args.namespace:
        namespace = args.namespace
    elif args.config and args.pr:
        try:
            namespace = n.namespace_name(load_config(args.config).project_id, args.pr)
        except (ConfigError, ValueError) as exc:  # NamingError is a ValueError
            print(f"mark-deploy: {args.config}: {exc}", file=sys.stderr)
            return 2
    else:
        print("mark-deploy: give --namespace, or --config and --pr", file=sys.stderr)
        return 2
    kube = Kube(api_client(args.kubernetes_host or None))
    try:
        ours = {ns.name: ns for ns in kube.preview_namespaces()}
        found = ours.get(namespace)
        if found is None:
            # A deploy that failed before creating its namespace has nothing to mark.
            print(f"mark-deploy: no preview namespace {namespace}")
            return 0 if args.status == "failed" else 1
        if not found.managed:
            print(f"mark-deploy: refused: {namespace} is not managed by lab-preview")
            return 3
        kube.patch_namespace(namespace, annotations={n.ANNOTATION_DEPLOY_STATUS: args.status})
    except KubeError as exc:
        print(f"mark-deploy: {exc}", file=sys.stderr)
        return 1
    print(f"mark-deploy: {namespace} {args.status}")
    return 0


def _cmd_pr_facts(args: argparse.Namespace) -> int:
    from labjanitor.github import GitHubClient, GitHubError

    claimed = json.loads(args.pr_file.read_text(encoding="utf-8"))
    with GitHubClient(_token(), base_url=args.api_url) as github:
        try:
            facts = pr_facts(github, args.repository, args.event_sha, claimed, args.label)
        except (GitHubError, PreserveRefusedError, KeyError, ValueError) as exc:
            print(f"pr-facts: refused: {exc}", file=sys.stderr)
            return 3
    for key, value in facts.items():
        print(f"{key}={value}")
    return 0


def _cmd_preserve(args: argparse.Namespace) -> int:
    """Apply a /preserve: count preserved namespaces, label this one (kubernetes client)."""
    from labjanitor.core.model import format_time, parse_time
    from labjanitor.kube import Kube, KubeError, api_client

    try:
        request = parse_preserve(args.body, args.association, args.max_hours)
    except PreserveRefusedError as exc:
        print(f"preserve: refused: {exc}")
        return 3
    kube = Kube(api_client(args.kubernetes_host or None))
    now = _now(args.now)
    try:
        namespaces = kube.preview_namespaces()
        ours = {ns.name: ns for ns in namespaces if ns.managed}
        if args.namespace not in ours:
            print(f"preserve: refused: no preview environment {args.namespace}")
            return 3
        preserved = {
            ns.name: parse_time(ns.annotations.get(n.ANNOTATION_PRESERVE_UNTIL, ""))
            for ns in ours.values()
            if ns.preserved
        }
        decision = decide_preserve(request, args.namespace, preserved, now, args.max_preserved)
        kube.patch_namespace(
            args.namespace,
            labels={n.LABEL_PRESERVE: "true"},
            annotations={
                n.ANNOTATION_PRESERVE_UNTIL: format_time(decision.until),
                n.ANNOTATION_PRESERVED_BY: args.user,
                n.ANNOTATION_PRESERVE_WARNED: None,
            },
        )
    except PreserveRefusedError as exc:
        print(f"preserve: refused: {exc}")
        return 3
    except KubeError as exc:
        print(f"preserve: {exc}", file=sys.stderr)
        return 1
    print(f"until={decision.until.strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"extended={'true' if decision.extended else 'false'}")
    return 0


def _cmd_preserve_warnings(args: argparse.Namespace) -> int:
    """Comment on PRs whose preservation ends within the hour, once each."""
    from labjanitor.github import GitHubClient, GitHubError
    from labjanitor.kube import Kube, KubeError, api_client

    kube = Kube(api_client(args.kubernetes_host or None))
    now = _now(args.now)
    try:
        items = kube.core.list_namespace(label_selector=f"{n.LABEL_PRESERVE}=true").items
    except Exception as exc:  # the client raises ApiException and urllib3 errors
        print(f"preserve-warnings: cannot list namespaces: {exc}", file=sys.stderr)
        return 1
    spaces = [kube.core.api_client.sanitize_for_serialization(i) for i in items]
    failed = 0
    with GitHubClient(_token(), base_url=args.api_url) as github:
        for name, repository, number, until in preserve_warnings(spaces, now):
            body = (
                f"{WARNING_MARKER}\nThe preview environment `{name}` stops being preserved at "
                f"{until.strftime('%Y-%m-%d %H:%M UTC')}. Comment `/preserve` to extend it."
            )
            try:
                github.create_comment(repository, number, body)
                kube.patch_namespace(name, annotations={n.ANNOTATION_PRESERVE_WARNED: "true"})
            except (GitHubError, KubeError) as exc:
                failed += 1
                print(f"preserve-warnings: {name}: {exc}", file=sys.stderr)
                continue
            print(f"warned: {name} (#{number})")
    return 1 if failed else 0


def _cmd_stale_stacks(args: argparse.Namespace) -> int:
    """Print the preview stacks to remove (one per line); one line per stack on stderr."""
    from labjanitor.github import GitHubClient
    from labjanitor.kube import Kube, KubeError, api_client
    from labjanitor.pulls import pull_states
    from labpreview.stacks import Verdict, decide_stacks, parse_stacks, prs_to_ask

    try:
        stacks = parse_stacks(json.loads(args.stacks.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        print(f"stale-stacks: {args.stacks}: {exc}", file=sys.stderr)
        return 2
    now = _now(args.now)
    min_age = timedelta(minutes=args.min_age_minutes)
    try:
        namespaces = Kube(api_client(args.kubernetes_host or None)).preview_namespaces()
    except KubeError as exc:
        print(f"stale-stacks: cannot list preview namespaces: {exc}", file=sys.stderr)
        return 1
    wanted = prs_to_ask(stacks, args.repository, namespaces, now, min_age)
    with GitHubClient(_token(), base_url=args.api_url) as github:
        lookup = pull_states(github, wanted, rotation=int(now.timestamp() // 3600))
    for error in lookup.errors:
        print(f"stale-stacks: {error}", file=sys.stderr)
    for decision in decide_stacks(stacks, args.repository, namespaces, lookup.states, now, min_age):
        print(
            f"stale-stacks: {decision.stack}: {decision.verdict.value} ({decision.reason})",
            file=sys.stderr,
        )
        if decision.verdict is Verdict.REMOVE:
            print(decision.stack)
    return 1 if lookup.errors else 0


def add_commands(commands: Any) -> None:
    """Register the workflow subcommands on `lab-preview`."""
    render = commands.add_parser("render", help="write the objects a PR's stack would create")
    render.add_argument("file", type=Path)
    render.add_argument("--pr", type=int, required=True)
    render.add_argument("--branch", required=True)
    render.add_argument("--commit", required=True)
    render.add_argument("--out", type=Path, default=Path("build/preview"))
    render.set_defaults(run=_cmd_render)

    access = commands.add_parser("access", help="check the organisation allow-list")
    access.add_argument("--policy", type=Path, default=Path(".github/config/allowed-orgs.json"))
    access.add_argument("--repository", required=True)
    access.add_argument("--head", default="")
    access.set_defaults(run=_cmd_access)

    gate = commands.add_parser("gate", help="may this PR deploy (forks need a label)")
    gate.add_argument("--repository", required=True)
    gate.add_argument("--head", required=True)
    gate.add_argument("--labels", default="", help="comma-separated labels, read from GitHub")
    gate.add_argument("--label", default="preview")
    gate.set_defaults(run=_cmd_gate)

    comment = commands.add_parser("comment", help="create or edit the sticky PR comment")
    comment.add_argument("--repository", required=True)
    comment.add_argument("--pr", type=int, required=True)
    comment.add_argument("--state", choices=STATES, required=True)
    comment.add_argument("--namespace", required=True)
    comment.add_argument("--commit", required=True)
    comment.add_argument("--branch", required=True)
    comment.add_argument("--url")
    comment.add_argument("--urls", help="JSON map of app name to URL (the stack output)")
    comment.add_argument("--grafana-url")
    comment.add_argument("--run-url")
    comment.add_argument("--preserve-until")
    comment.add_argument("--merged", action="store_true")
    comment.add_argument("--now")
    comment.add_argument("--api-url", default="https://api.github.com")
    comment.add_argument("--dry-run", action="store_true", help="print the body only")
    comment.set_defaults(run=_cmd_comment)

    preserve = commands.add_parser("preserve-check", help="parse a /preserve comment")
    preserve.add_argument("--body", required=True)
    preserve.add_argument("--association", required=True)
    preserve.add_argument("--max-hours", type=int, default=MAX_PRESERVE_HOURS)
    preserve.set_defaults(run=_cmd_preserve_check)

    stack = commands.add_parser("stack-config", help="write a PR's Pulumi stack file")
    stack.add_argument("--base", type=Path, default=Path("infra/projects/preview/Pulumi.lab.yaml"))
    stack.add_argument("--config", type=Path, default=Path("k8s-ee.yaml"))
    stack.add_argument("--pr", type=int, required=True)
    stack.add_argument("--branch", required=True)
    stack.add_argument("--commit", required=True)
    stack.add_argument("--created-at")
    stack.add_argument("--now")
    stack.add_argument("--out", type=Path, required=True)
    stack.set_defaults(run=_cmd_stack_config)

    facts = commands.add_parser("pr-facts", help="verify a workflow_run's PR against GitHub")
    facts.add_argument("--repository", required=True)
    facts.add_argument("--event-sha", required=True)
    facts.add_argument("--pr-file", type=Path, required=True)
    facts.add_argument("--label", default="preview")
    facts.add_argument("--api-url", default="https://api.github.com")
    facts.set_defaults(run=_cmd_pr_facts)

    status = commands.add_parser(
        "status", help=f"set the {STATUS_CONTEXT} commit status on a PR's head commit"
    )
    status.add_argument("--repository", required=True)
    status.add_argument("--sha", required=True, help="the full head commit SHA")
    status.add_argument("--state", required=True, help=", ".join(STATUS_STATES))
    status.add_argument("--target-url", default="", help="required for success")
    status.add_argument("--description", default="")
    status.add_argument("--api-url", default="https://api.github.com")
    status.set_defaults(run=_cmd_status)

    mark = commands.add_parser(
        "mark-deploy", help="annotate a PR's namespace with its deploy's outcome (janitor)"
    )
    mark.add_argument("--status", choices=DEPLOY_STATUSES, required=True)
    mark.add_argument("--namespace", default="")
    mark.add_argument("--config", type=Path, help="k8s-ee.yaml, to name the namespace")
    mark.add_argument("--pr", type=int)
    mark.add_argument("--kubernetes-host", default="")
    mark.set_defaults(run=_cmd_mark_deploy)

    apply = commands.add_parser("preserve", help="apply a /preserve comment to a namespace")
    apply.add_argument("--namespace", required=True)
    apply.add_argument("--body", required=True)
    apply.add_argument("--association", required=True)
    apply.add_argument("--user", required=True)
    apply.add_argument("--max-hours", type=int, default=MAX_PRESERVE_HOURS)
    apply.add_argument("--max-preserved", type=int, default=MAX_PRESERVED)
    apply.add_argument("--now")
    apply.add_argument("--kubernetes-host", default="")
    apply.set_defaults(run=_cmd_preserve)

    warn = commands.add_parser("preserve-warnings", help="warn PRs whose preservation ends soon")
    warn.add_argument("--now")
    warn.add_argument("--kubernetes-host", default="")
    warn.add_argument("--api-url", default="https://api.github.com")
    warn.set_defaults(run=_cmd_preserve_warnings)

    stale = commands.add_parser(
        "stale-stacks", help="preview stacks whose namespace is gone and whose PR is closed"
    )
    stale.add_argument("--repository", required=True)
    stale.add_argument("--stacks", type=Path, required=True, help="pulumi stack ls --json")
    stale.add_argument("--min-age-minutes", type=int, default=60)
    stale.add_argument("--now")
    stale.add_argument("--kubernetes-host", default="")
    stale.add_argument("--api-url", default="https://api.github.com")
    stale.set_defaults(run=_cmd_stale_stacks)

    images = commands.add_parser("images", help="the images to build for a commit (JSON)")
    images.add_argument("--config", type=Path, default=Path("k8s-ee.yaml"))
    images.add_argument("--registry", default="registry.lab.internal")
    images.add_argument("--commit", required=True)
    images.set_defaults(run=_cmd_images)


__all__ = [
    "STATUS_CONTEXT",
    "AccessDecision",
    "CommentFacts",
    "check_access",
    "check_pull_access",
    "decide_preserve",
    "deploy_gate",
    "parse_preserve",
    "post_status",
    "preserve_warnings",
    "render_comment",
    "stack_config",
    "status_body",
    "upsert_comment",
]
