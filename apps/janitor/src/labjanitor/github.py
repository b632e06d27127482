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


@dataclass
class CallLog:
    """What the client sent, for metrics and for tests that count calls."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    not_modified: int = 0


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
            return httpx.Response(200, json=cached.body, request=response.request)
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
            self.cache[key] = Cached(etag, cache_as(body) if cache_as else body)
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

    # --- endpoints ---------------------------------------------------------------

    def get_pull(self, repository: str, number: int) -> PullRequest:
        url = f"/repos/{repository}/pulls/{number}"
        data = self.request("GET", url, conditional=True, cache_as=_pull_fields).json()
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
        except (KeyError, TypeError, ValueError) as exc:
            raise GitHubError(f"pull {repository}#{number}: unexpected answer ({exc})") from None

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
