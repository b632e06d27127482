"""Looking up many pull requests in few requests, never more than one per pull request.

Against `labjanitor.testing.fake_github`, a local server that answers GitHub's "List pull
requests" and "Get a pull request" as GitHub's REST documentation describes them (github.com
cannot be reached here): pages newest first, `Link` URLs by repository id, list items
without `merged`, ETags and 304s, rate limits.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labjanitor.core.model import PrState, PullRef
from labjanitor.github import GitHubClient
from labjanitor.pulls import pull_states
from labjanitor.testing.fake_github import TOKEN, FakeGitHubServer, pull

REPO = "example-lab/lab"
LIST = f"/repos/{REPO}/pulls?state=all&sort=created&direction=desc&per_page=100"


def expected(number: int) -> PrState:
    return (PrState.OPEN, PrState.CLOSED, PrState.MERGED)[number % 3]


def fill(server: FakeGitHubServer, numbers: Iterator[int] | range | list[int]) -> None:
    for n in numbers:
        state = expected(n)
        server.state.add_pull(
            REPO, pull(n, "open" if state is PrState.OPEN else "closed", state is PrState.MERGED)
        )


def lookup(server: FakeGitHubServer, numbers: list[int], **kwargs: int) -> dict[int, PrState]:
    before = len(server.state.requests)
    with GitHubClient(TOKEN, base_url=server.url) as github:
        found = pull_states(github, [PullRef(REPO, n) for n in numbers], **kwargs)
    assert found.requests == len(server.state.requests) - before
    assert found.requests <= len(set(numbers))
    return {ref.number: state for ref, state in found.states.items()}


def paths(server: FakeGitHubServer) -> list[str]:
    return [p for _, p, _ in server.state.requests]


def test_two_pages_answer_120_pull_requests(github_server: FakeGitHubServer) -> None:
    fill(github_server, range(1, 151))
    wanted = list(range(31, 151))
    assert lookup(github_server, wanted) == {n: expected(n) for n in wanted}
    requested = paths(github_server)
    assert requested[0] == LIST
    # The next page is the Link header's URL, which names the repository by its id.
    repository_id = github_server.state.repository_id(REPO)
    assert requested[1:] == [
        f"/repositories/{repository_id}/pulls?state=all&sort=created&direction=desc"
        "&per_page=100&page=2"
    ]


def test_merged_is_read_from_merged_at_in_a_list(github_server: FakeGitHubServer) -> None:
    github_server.state.add_pull(REPO, pull(1, "closed", True))
    github_server.state.add_pull(REPO, pull(2, "closed", False))
    assert lookup(github_server, [1, 2]) == {1: PrState.MERGED, 2: PrState.CLOSED}
    assert paths(github_server) == [LIST]


def test_a_number_the_complete_list_lacks_is_unknown(github_server: FakeGitHubServer) -> None:
    fill(github_server, [1, 2, 4])  # 3 is an issue, not a pull request
    assert lookup(github_server, [2, 3]) == {2: expected(2), 3: PrState.UNKNOWN}
    assert paths(github_server) == [LIST]


def test_one_pull_request_is_one_get(github_server: FakeGitHubServer) -> None:
    fill(github_server, range(1, 5))
    assert lookup(github_server, [3]) == {3: expected(3)}
    assert paths(github_server) == [f"/repos/{REPO}/pulls/3"]


def test_old_pull_requests_are_asked_one_by_one(github_server: FakeGitHubServer) -> None:
    fill(github_server, range(1, 301))
    assert lookup(github_server, [300, 299, 5, 4]) == {n: expected(n) for n in (300, 299, 5, 4)}
    # Page 1 answered two; page 2 (still within the budget) answered none; then one by one.
    assert len(paths(github_server)) == 4
    assert paths(github_server)[2:] == [f"/repos/{REPO}/pulls/4", f"/repos/{REPO}/pulls/5"]


def test_a_first_page_that_answers_none_leaves_one_unasked_in_turn(
    github_server: FakeGitHubServer,
) -> None:
    fill(github_server, range(1, 301))
    first = lookup(github_server, [1, 2], rotation=0)
    assert first == {1: PrState.NOT_ASKED, 2: expected(2)}
    second = lookup(github_server, [1, 2], rotation=1)
    assert second == {1: expected(1), 2: PrState.NOT_ASKED}
    assert len(paths(github_server)) == 4  # two per lookup: never more than one per PR


def test_a_number_newer_than_the_list_is_asked_on_its_own(
    github_server: FakeGitHubServer,
) -> None:
    fill(github_server, range(1, 301))
    assert lookup(github_server, [300, 999]) == {300: expected(300), 999: PrState.UNKNOWN}
    assert paths(github_server) == [LIST, f"/repos/{REPO}/pulls/999"]


def test_unchanged_pages_cost_no_rate_limit(github_server: FakeGitHubServer) -> None:
    fill(github_server, range(1, 151))
    with GitHubClient(TOKEN, base_url=github_server.url) as github:
        pull_states(github, [PullRef(REPO, n) for n in range(1, 151)])
        cache = github.kept_cache()
    remaining = github_server.state.remaining
    outcomes: list[str] = []
    with GitHubClient(TOKEN, base_url=github_server.url, cache=cache) as github:
        again = pull_states(
            github, [PullRef(REPO, n) for n in range(1, 151)], outcome=outcomes.append
        )
    assert {r.number: s for r, s in again.states.items()} == {n: expected(n) for n in range(1, 151)}
    assert outcomes == ["not_modified", "not_modified"]
    assert github_server.state.remaining == remaining
    assert [s for _, _, s in github_server.state.requests[-2:]] == [304, 304]


def test_the_kept_cache_holds_only_what_this_run_asked(github_server: FakeGitHubServer) -> None:
    fill(github_server, range(1, 5))
    with GitHubClient(TOKEN, base_url=github_server.url) as github:
        pull_states(github, [PullRef(REPO, 1)])
        old = github.kept_cache()
    with GitHubClient(TOKEN, base_url=github_server.url, cache=dict(old)) as github:
        pull_states(github, [PullRef(REPO, 2)])
        kept = github.kept_cache()
    assert list(old) == [f"{github_server.url}/repos/{REPO}/pulls/1"]
    assert list(kept) == [f"{github_server.url}/repos/{REPO}/pulls/2"]


@pytest.mark.parametrize(
    ("setup", "state", "is_error"),
    [
        ("fail", PrState.ERROR, True),
        ("rate", PrState.RATE_LIMITED, False),
        ("secondary", PrState.RATE_LIMITED, False),
        ("unknown-repository", PrState.UNKNOWN, False),
    ],
)
def test_a_failed_list_keeps_every_pull_request_in_doubt(
    github_server: FakeGitHubServer, setup: str, state: PrState, is_error: bool
) -> None:
    fill(github_server, range(1, 5))
    if setup == "fail":
        github_server.state.fail[r"/pulls$"] = 502
    elif setup == "rate":
        github_server.state.remaining = 0
    elif setup == "secondary":
        github_server.state.secondary_limit = True
    repository = "example-lab/gone" if setup == "unknown-repository" else REPO
    with GitHubClient(TOKEN, base_url=github_server.url) as github:
        found = pull_states(github, [PullRef(repository, n) for n in (1, 2, 3)])
    assert set(found.states.values()) == {state}
    assert found.requests == 1
    assert bool(found.errors) is is_error


@st.composite
def repositories(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """Pull request numbers with gaps (issues share the numbering), and the numbers wanted:
    mostly recent ones, some old, some that are not pull requests."""
    count = draw(st.integers(1, 330))
    gaps = draw(st.sets(st.integers(1, count), max_size=count // 4))
    prs = [n for n in range(1, count + 1) if n not in gaps]
    wanted = draw(st.sets(st.integers(1, count + 20), min_size=1, max_size=60))
    return prs, sorted(wanted)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=repositories(), rotation=st.integers(0, 10))
def test_never_more_than_one_request_per_pull_request_and_every_answer_right(
    github_server: FakeGitHubServer, case: tuple[list[int], list[int]], rotation: int
) -> None:
    prs, wanted = case
    github_server.state.pulls.clear()
    github_server.state.requests.clear()
    github_server.state.remaining = 5000
    fill(github_server, prs)
    found = lookup(github_server, wanted, rotation=rotation)
    assert set(found) == set(wanted)
    unasked = [n for n, s in found.items() if s is PrState.NOT_ASKED]
    assert len(unasked) <= 1
    for n, state in found.items():
        if state is not PrState.NOT_ASKED:
            assert state == (expected(n) if n in prs else PrState.UNKNOWN), n
