"""A small GitHub REST client: pagination, conditional requests, rate-limit handling.

Facts it relies on (GitHub REST API documentation, "Using pagination", "Best practices",
"Rate limits for the REST API"):
- Lists are paged with `per_page` (max 100) and a `Link` header whose `rel="next"` URL is
  the next page; the last page has no `next`.
- Responses carry an `ETag`; a request with `If-None-Match: <etag>` that has not changed
  is answered `304 Not Modified` with no body, and a 304 does not count against the
  primary rate limit.
- Every response carries `x-ratelimit-remaining` and `x-ratelimit-reset` (epoch seconds).
  Over the limit GitHub answers 403 or 429 with `x-ratelimit-remaining: 0`, or with a
  `retry-after` header (seconds) for secondary limits; the client must wait, not retry.

This client never retries and never sleeps: a caller that must not make more than one
call per pull request per run (the janitor) gets a `RateLimitedError` and keeps what it
could not decide. Once the limit is reached (or the remaining budget falls to `reserve`),
further calls fail at once without a request.

One `httpx.Client` serves every request of a run: its connection pool keeps the TLS
connection to the API alive between requests (GitHub answers HTTP/1.1 keep-alive), so a
run pays one handshake, not one per request. Requests are made one after the other, as
GitHub's "Best practices for using the REST API" asks ("make requests serially instead of
concurrently" to stay clear of the secondary rate limits); a run needs few of them because
`pulls_pages` answers up to 100 pull requests per request (see `labjanitor.pulls`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubError(RuntimeError):
    """A request failed: network, 5xx, auth, or an unexpected answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFoundError(GitHubError):
    """404: no such resource (or no access to it: GitHub answers 404 for both)."""


class RateLimitedError(GitHubError):
    """The rate limit is reached; `reset_at` is when GitHub said it resets (epoch s)."""

    def __init__(self, message: str, reset_at: float | None = None) -> None:
        super().__init__(message, 403)
        self.reset_at = reset_at


@dataclass(frozen=True)
class PullRequest:
    number: int
    state: str
    """open or closed."""
    merged: bool
    head_sha: str
    head_repository: str
    """owner/name of the head repository (a fork's, for pull requests from forks)."""
    base_repository: str
    labels: tuple[str, ...]
    author: str


@dataclass
class Cached:
    etag: str
    body: Any
    link: str = ""
    """The answer's `Link` header: a page answered from the cache still has a next page."""


@dataclass
class CallLog:
    """What the client sent, for metrics and for tests that count calls."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    not_modified: int = 0


@dataclass(frozen=True)
class PullsPage:
    """One page of a repository's pull requests, newest first."""

    pulls: tuple[PullRequest, ...]
    has_next: bool
    not_modified: bool


class GitHubClient:
    def __init__(
        self,
        token: str,
        *,
        base_url: str = API_URL,
        timeout: float = 10.0,
        reserve: int = 0,
        cache: dict[str, Cached] | None = None,
        user_agent: str = "lab-preview",
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": user_agent,
            },
        )
        self.reserve = reserve
        self.cache: dict[str, Cached] = cache if cache is not None else {}
        self.used: set[str] = set()
        """Cache keys asked for in this client's lifetime (what is worth keeping)."""
        self.calls = CallLog()
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self._limited = False

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------

    def _check_budget(self) -> None:
        if self._limited or (self.remaining is not None and self.remaining <= self.reserve):
            self._limited = True
            raise RateLimitedError(
                f"GitHub rate limit reached ({self.remaining} left, reserve {self.reserve})",
                self.reset_at,
            )

    def _note_limits(self, response: httpx.Response) -> None:
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = response.headers.get("x-ratelimit-reset")
        if remaining is not None and remaining.isdigit():
            self.remaining = int(remaining)
        if reset is not None and reset.isdigit():
            self.reset_at = float(reset)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        conditional: bool = False,
        cache_as: Callable[[Any], Any] | None = None,
    ) -> httpx.Response:
        """One request; errors become GitHubError subclasses.

        With `conditional`, a GET carries the cached ETag and a 304 is answered from the
        cache; `cache_as` keeps only what the caller needs of a body (the cache is stored
        between runs, and a pull request's full body is tens of kilobytes).
        """
        self._check_budget()
        key = str(self._http.build_request(method, url, params=params).url)
        headers = {}
        cached = self.cache.get(key) if conditional else None
        if conditional:
            self.used.add(key)
        if cached is not None:
            headers["If-None-Match"] = cached.etag
        self.calls.requests.append((method, key))
        try:
            response = self._http.request(method, url, params=params, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise GitHubError(f"{method} {url}: {exc.__class__.__name__}: {exc}") from None
        self._note_limits(response)
        if response.status_code == 304 and cached is not None:
            self.calls.not_modified += 1
            link = response.headers.get("link") or cached.link
            return httpx.Response(
                200,
                json=cached.body,
                headers={"link": link} if link else None,
                request=response.request,
            )
        if response.status_code in (403, 429) and (
            response.headers.get("x-ratelimit-remaining") == "0"
            or "retry-after" in response.headers
        ):
            self._limited = True
            retry = response.headers.get("retry-after", "")
            reset = time.time() + float(retry) if retry.isdigit() else self.reset_at
            raise RateLimitedError(f"{method} {url}: rate limited ({response.status_code})", reset)
        if response.status_code == 404:
            raise NotFoundError(f"{method} {url}: not found", 404)
        if response.status_code >= 400:
            message = _message(response)
            raise GitHubError(
                f"{method} {url}: {response.status_code} {message}", response.status_code
            )
        etag = response.headers.get("etag")
        if conditional and etag and method == "GET":
            body = response.json()
            self.cache[key] = Cached(
                etag, cache_as(body) if cache_as else body, response.headers.get("link", "")
            )
        return response

    def paginate(self, url: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a list endpoint, following `Link: <...>; rel="next"`."""
        next_url: str | None = url
        next_params: Mapping[str, Any] | None = {"per_page": 100, **(params or {})}
        while next_url:
            response = self.request("GET", next_url, params=next_params)
            items = response.json()
            if not isinstance(items, list):
                raise GitHubError(f"GET {next_url}: expected a list")
            yield from items
            match = _NEXT.search(response.headers.get("link", ""))
            next_url, next_params = (match.group(1), None) if match else (None, None)

    def kept_cache(self) -> dict[str, Cached]:
        """The cache entries this run asked for: what to store for the next run. Entries of
        pull requests no longer asked about (their namespaces are gone) are dropped, so the
        stored cache does not grow without end (a ConfigMap holds at most 1 MiB)."""
        return {k: v for k, v in self.cache.items() if k in self.used}

    # --- endpoints ---------------------------------------------------------------

    def get_pull(self, repository: str, number: int) -> PullRequest:
        url = f"/repos/{repository}/pulls/{number}"
        data = self.request("GET", url, conditional=True, cache_as=_pull_fields).json()
        return _parse_pull(data, f"pull {repository}#{number}")

    def pulls_pages(self, repository: str) -> Iterator[PullsPage]:
        """The repository's pull requests, open and closed, newest first, 100 per request.

        `GET /repos/{owner}/{repo}/pulls` ("List pull requests", REST API 2022-11-28):
        `state=all` lists open and closed ones; `sort=created` with `direction=desc` orders
        them by creation, newest first, and pull request numbers are handed out in order of
        creation, so the numbers fall page by page; `per_page` is at most 100; the next
        page is the `Link` header's `rel="next"` URL. Its items are "pull request simple"
        objects: `state`, `merged_at` (there is no `merged` boolean in a list), `head`,
        `base`, `labels`, `user`. Each page is a conditional request like `get_pull`.
        """
        next_url: str | None = f"/repos/{repository}/pulls"
        params: Mapping[str, Any] | None = {
            "state": "all",
            "sort": "created",
            "direction": "desc",
            "per_page": 100,
        }
        while next_url:
            before = self.calls.not_modified
            response = self.request(
                "GET", next_url, params=params, conditional=True, cache_as=_page_fields
            )
            items = response.json()
            if not isinstance(items, list):
                raise GitHubError(f"GET {next_url}: expected a list")
            match = _NEXT.search(response.headers.get("link", ""))
            yield PullsPage(
                pulls=tuple(_parse_pull(item, f"{repository} pulls") for item in items),
                has_next=match is not None,
                not_modified=self.calls.not_modified > before,
            )
            next_url, params = (match.group(1), None) if match else (None, None)

    def list_comments(self, repository: str, number: int) -> list[dict[str, Any]]:
        return list(self.paginate(f"/repos/{repository}/issues/{number}/comments"))

    def create_comment(self, repository: str, number: int, body: str) -> dict[str, Any]:
        url = f"/repos/{repository}/issues/{number}/comments"
        result: dict[str, Any] = self.request("POST", url, json={"body": body}).json()
        return result

    def update_comment(self, repository: str, comment_id: int, body: str) -> dict[str, Any]:
        url = f"/repos/{repository}/issues/comments/{comment_id}"
        result: dict[str, Any] = self.request("PATCH", url, json={"body": body}).json()
        return result

    def create_status(
        self,
        repository: str,
        sha: str,
        state: str,
        *,
        context: str,
        target_url: str = "",
        description: str = "",
    ) -> dict[str, Any]:
        """`POST /repos/{owner}/{repo}/statuses/{sha}` ("Create a commit status", REST API
        2022-11-28): `state` is error, failure, pending or success; a later status with the
        same `context` replaces the earlier one on the commit. Answers 201 with the status."""
        body = {"state": state, "context": context}
        if target_url:
            body["target_url"] = target_url
        if description:
            body["description"] = description
        url = f"/repos/{repository}/statuses/{sha}"
        result: dict[str, Any] = self.request("POST", url, json=body).json()
        return result


def _parse_pull(data: Any, what: str) -> PullRequest:
    try:
        return PullRequest(
            number=int(data["number"]),
            state=str(data["state"]),
            merged=bool(data.get("merged") or data.get("merged_at")),
            head_sha=str(data["head"]["sha"]),
            head_repository=str((data["head"].get("repo") or {}).get("full_name") or ""),
            base_repository=str(data["base"]["repo"]["full_name"]),
            labels=tuple(str(label["name"]) for label in data.get("labels") or []),
            author=str((data.get("user") or {}).get("login") or ""),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GitHubError(f"{what}: unexpected answer ({exc})") from None


def _page_fields(data: Any) -> Any:
    return [_pull_fields(item) for item in data] if isinstance(data, list) else data


def _pull_fields(data: Any) -> Any:
    """The parts of a pull request `get_pull` reads."""
    head = data.get("head") or {}
    return {
        "number": data.get("number"),
        "state": data.get("state"),
        "merged": data.get("merged"),
        "merged_at": data.get("merged_at"),
        "head": {
            "sha": head.get("sha"),
            "repo": {"full_name": (head.get("repo") or {}).get("full_name")},
        },
        "base": {
            "repo": {"full_name": ((data.get("base") or {}).get("repo") or {}).get("full_name")}
        },
        "labels": [{"name": label.get("name")} for label in data.get("labels") or []],
        "user": {"login": (data.get("user") or {}).get("login")},
    }


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", ""))
    except ValueError:
        return response.text[:200]
