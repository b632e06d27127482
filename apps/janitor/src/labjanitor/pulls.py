"""The state of many pull requests in few GitHub requests, never more than one per PR.

Per repository, with k pull requests to look up:

- k = 1: one conditional `GET /repos/{repo}/pulls/{n}` (a 304 costs no rate limit).
- k >= 2: the repository's list of pull requests, newest first, 100 per request
  (`GitHubClient.pulls_pages`), which answers every pull request on the pages it reads.
  Namespaces live for open and recently closed pull requests, so the first page usually
  answers most of them; the 500-namespace benchmark needs 5 requests instead of 450.
  Reading stops when every PR is answered, when the list is complete (a number the
  complete list does not have is not a pull request: UNKNOWN, as GitHub's 404 would be),
  when the PRs still wanted are all newer than the page's oldest (they were not listed:
  asked one by one), or when one more page could cost more than asking the rest one by one.
  What is left is asked one by one.

The budget rule keeps a run at most one request per pull request: another page is read only
while the pages read so far have answered at least as many pull requests as pages were
read (pages + 1 <= answered), so pages + the PRs left never exceed k. Only a first page
that answers none of them (every PR wanted is older than the 100 newest) leaves one request
short: one PR is then not asked this run (kept, `github-not-asked`); which one rotates with
`rotation` (the run's hour), so none is starved.

Errors keep what is not known: a 404 for the list (no such repository, or no access) makes
its PRs UNKNOWN; an error makes them ERROR; the rate limit makes them RATE_LIMITED, and no
further request is made (the client refuses once limited).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from labjanitor.core.model import PrState, PullRef
from labjanitor.github import (
    GitHubClient,
    GitHubError,
    NotFoundError,
    PullRequest,
    RateLimitedError,
)

Outcome = Callable[[str], None]
"""Called once per request made (or refused for the rate limit without being made), with
ok / not_modified / not_found / error / rate_limited."""


@dataclass
class Lookup:
    states: dict[PullRef, PrState] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    requests: int = 0


def state_of(pr: PullRequest) -> PrState:
    if pr.merged:
        return PrState.MERGED
    if pr.state == "closed":
        return PrState.CLOSED
    if pr.state == "open":
        return PrState.OPEN
    return PrState.ERROR


def pull_states(
    github: GitHubClient,
    pulls: Iterable[PullRef],
    *,
    rotation: int = 0,
    outcome: Outcome | None = None,
) -> Lookup:
    """GitHub's answer for each pull request, at most one request per pull request."""
    count = outcome or (lambda _: None)
    lookup = Lookup()
    wanted: dict[str, set[int]] = defaultdict(set)
    for pull in pulls:
        wanted[pull.repository].add(pull.number)
    for repository in sorted(wanted):
        before = len(github.calls.requests)
        numbers = wanted[repository]
        states = _listed(github, repository, numbers, lookup, count) if len(numbers) > 1 else {}
        budget = len(numbers) - (len(github.calls.requests) - before)
        left = sorted(n for n in numbers if n not in states)
        if len(left) > budget:
            skipped = left[rotation % len(left)]
            states[skipped] = PrState.NOT_ASKED
            left.remove(skipped)
        for number in left:
            states[number] = _one(github, repository, number, lookup, count)
        for number, state in states.items():
            lookup.states[PullRef(repository, number)] = state
        lookup.requests += len(github.calls.requests) - before
    return lookup


def _listed(
    github: GitHubClient,
    repository: str,
    numbers: set[int],
    lookup: Lookup,
    count: Outcome,
) -> dict[int, PrState]:
    states: dict[int, PrState] = {}
    pending = set(numbers)
    pages = 0
    try:
        for page in github.pulls_pages(repository):
            pages += 1
            count("not_modified" if page.not_modified else "ok")
            for pr in page.pulls:
                if pr.number in pending:
                    states[pr.number] = state_of(pr)
                    pending.discard(pr.number)
            if not page.has_next:
                # The whole list was read: what it does not have is not a pull request.
                states.update(dict.fromkeys(pending, PrState.UNKNOWN))
                break
            oldest = min((pr.number for pr in page.pulls), default=0)
            if not pending or min(pending) > oldest or pages + 1 > len(states):
                break
    except RateLimitedError:
        count("rate_limited")
        states.update(dict.fromkeys(pending, PrState.RATE_LIMITED))
    except NotFoundError:
        count("not_found")
        states.update(dict.fromkeys(pending, PrState.UNKNOWN))
    except GitHubError as exc:
        count("error")
        states.update(dict.fromkeys(pending, PrState.ERROR))
        lookup.errors.append(f"github {repository} pulls: {exc}")
    return states


def _one(
    github: GitHubClient, repository: str, number: int, lookup: Lookup, count: Outcome
) -> PrState:
    not_modified = github.calls.not_modified
    try:
        pr = github.get_pull(repository, number)
    except RateLimitedError:
        count("rate_limited")
        return PrState.RATE_LIMITED
    except NotFoundError:
        count("not_found")
        return PrState.UNKNOWN
    except GitHubError as exc:
        count("error")
        lookup.errors.append(f"github {repository}#{number}: {exc}")
        return PrState.ERROR
    count("not_modified" if github.calls.not_modified > not_modified else "ok")
    return state_of(pr)
