"""A local HTTP server that answers a small part of GitHub's REST API as GitHub does.

For tests (nothing here may reach github.com). It models, from GitHub's REST documentation:
- `Authorization: Bearer <token>` required (401 `Bad credentials` otherwise);
- `GET /repos/{owner}/{repo}/pulls/{n}` with an `ETag`; `If-None-Match` with the current
  ETag answers `304 Not Modified`, which does not use the rate limit;
- `GET /repos/{owner}/{repo}/pulls` ("List pull requests"): `state` open (the default),
  closed or all; `sort=created` (the default) with `direction` desc (the default) or asc;
  `per_page` (default 30, at most 100) and `page`; items are "pull request simple" objects,
  which have `merged_at` but no `merged`; the `Link` header's URLs name the repository by
  its id (`/repositories/{id}/pulls?...&page=N`, as in GitHub's "Using pagination in the
  REST API"), and that path answers too; pages carry an ETag and answer 304 like above;
- HTTP/1.1 with keep-alive, as api.github.com (one connection serves a client's requests);
- `x-ratelimit-limit/remaining/used/reset` on every answer; at zero, 403 with
  `x-ratelimit-remaining: 0`; a secondary limit as 403 with `retry-after`;
- issue comments listed in pages (`per_page`, `page`) with a `Link` header (`rel="next"`,
  `rel="last"`, absolute URLs), created with POST and edited with PATCH;
- 404 `Not Found` for unknown repositories and pull requests;
- commit statuses, `POST /repos/{owner}/{repo}/statuses/{sha}` ("Create a commit status"):
  `state` one of error, failure, pending, success, optional `target_url`, `description`
  and `context` (default `default`, compared case-insensitively); 201 with the status;
  422 `Validation Failed` for another state or a description over 140 characters (GitHub's
  "description is too long (maximum is 140 characters)"), 422 `No commit found for SHA`
  for a commit the repository does not have (here: the head of none of its pull requests
  and not in `GitHubState.commits`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghp_test-token"  # noqa: S105 (a test credential for the fake only)
_ids = itertools.count(1000)


def pull(
    number: int,
    state: str = "open",
    merged: bool = False,
    *,
    repository: str = "example-lab/lab",
    head_repository: str | None = None,
    head_sha: str = "a" * 40,
    labels: tuple[str, ...] = (),
    author: str = "alice",
    created_at: str | None = None,
) -> dict[str, Any]:
    """A pull request body with the fields GitHub returns that the lab reads. Numbers are
    handed out in order of creation, so by default a higher number was created later."""
    return {
        "number": number,
        "state": state,
        "merged": merged,
        "merged_at": "2026-01-02T00:00:00Z" if merged else None,
        "created_at": created_at or _created(number),
        "title": f"PR {number}",
        "body": "x" * 2000,
        "user": {"login": author},
        "head": {
            "sha": head_sha,
            "ref": "feature",
            "repo": {"full_name": head_repository or repository},
        },
        "base": {"ref": "main", "repo": {"full_name": repository}},
        "labels": [{"name": name} for name in labels],
    }


def _created(number: int) -> str:
    return (datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=number)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


SIMPLE_LEAVES_OUT = ("merged", "mergeable", "comments", "commits", "additions", "deletions")
"""Fields of a full pull request that the list's "pull request simple" items do not have."""


@dataclass
class GitHubState:
    pulls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    remaining: int = 5000
    limit: int = 5000
    reset: int = 1_900_000_000
    secondary_limit: bool = False
    fail: dict[str, int] = field(default_factory=dict)
    """path regex -> status to answer (e.g. 500, 502)."""
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    """(method, path with query, status answered)."""
    repository_ids: dict[str, int] = field(default_factory=dict)
    commits: set[tuple[str, str]] = field(default_factory=set)
    """(repository, sha) of commits that exist besides the pull requests' heads."""
    statuses: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    """(repository, sha) -> the statuses created on that commit, oldest first."""
    latency: float = 0.0
    """Seconds each answer waits, for a round trip to api.github.com (benchmarks)."""

    def add_pull(self, repository: str, body: dict[str, Any]) -> None:
        self.pulls[(repository.lower(), int(body["number"]))] = body
        self.repository_id(repository)

    def repository_id(self, repository: str) -> int:
        ids = self.repository_ids
        return ids.setdefault(repository.lower(), 100_000 + len(ids))

    def repository_of(self, id_or_name: str) -> str:
        for name, number in self.repository_ids.items():
            if str(number) == id_or_name:
                return name
        return id_or_name.lower()


class _Handler(BaseHTTPRequestHandler):
    server: FakeGitHubServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm holds
    # the body until the client's delayed ACK (~40 ms per request on a kept-alive
    # connection), a stall api.github.com does not have.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, code: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        state = self.server.state
        data = json.dumps(body).encode() if body is not None else b""
        # Recorded before answering, so a test that reads it after the call sees it.
        state.requests.append((self.command, self.path, code))
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("x-ratelimit-limit", str(state.limit))
        self.send_header("x-ratelimit-remaining", str(state.remaining))
        self.send_header("x-ratelimit-used", str(state.limit - state.remaining))
        self.send_header("x-ratelimit-reset", str(state.reset))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        state = self.server.state
        # Read the whole body first: on a kept-alive connection an unread body would be
        # taken for the next request.
        self._body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if state.latency:
            time.sleep(state.latency)
        with self.server.lock:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"message": "Bad credentials", "status": "401"})
                return
            parts = urlsplit(self.path)
            path, query = parts.path, parse_qs(parts.query)
            for pattern, code in state.fail.items():
                if re.search(pattern, path):
                    self._send(code, {"message": "Server Error"})
                    return
            if state.secondary_limit:
                self._send(
                    403,
                    {"message": "You have exceeded a secondary rate limit."},
                    {"retry-after": "60"},
                )
                return
            etag_wanted = self.headers.get("If-None-Match")
            match = re.match(r"^/repos/([^/]+/[^/]+)/pulls/(\d+)$", path)
            if match and self.command == "GET":
                body = state.pulls.get((match.group(1).lower(), int(match.group(2))))
                etag = _etag(body)
                if body is not None and etag_wanted == etag:
                    self._send(304, None, {"ETag": etag})
                    return
                if not self._spend():
                    return
                if body is None:
                    self._send(404, {"message": "Not Found", "status": "404"})
                else:
                    self._send(200, body, {"ETag": etag})
                return
            match = re.match(r"^/(?:repos/([^/]+/[^/]+)|repositories/(\d+))/pulls$", path)
            if match and self.command == "GET":
                self._list_pulls(
                    state.repository_of(match.group(1) or match.group(2)),
                    query,
                    etag_wanted,
                )
                return
            match = re.match(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$", path)
            if match:
                if not self._spend():
                    return
                key = (match.group(1).lower(), int(match.group(2)))
                if self.command == "GET":
                    self._list(state.comments.get(key, []), query, path)
                elif self.command == "POST":
                    comment = {
                        "id": next(_ids),
                        "body": self._json()["body"],
                        "user": {"login": "github-actions[bot]"},
                    }
                    state.comments.setdefault(key, []).append(comment)
                    self._send(201, comment)
                return
            match = re.match(r"^/repos/([^/]+/[^/]+)/statuses/([^/]+)$", path)
            if match and self.command == "POST":
                if self._spend():
                    self._create_status(match.group(1).lower(), match.group(2))
                return
            match = re.match(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$", path)
            if match and self.command == "PATCH":
                if not self._spend():
                    return
                for comments in state.comments.values():
                    for comment in comments:
                        if comment["id"] == int(match.group(2)):
                            comment["body"] = self._json()["body"]
                            self._send(200, comment)
                            return
                self._send(404, {"message": "Not Found"})
                return
            self._send(404, {"message": "Not Found"})

    def _create_status(self, repository: str, sha: str) -> None:
        state = self.server.state
        heads = {(repo, str(body["head"]["sha"])) for (repo, _), body in state.pulls.items()}
        if (repository, sha) not in heads | state.commits:
            self._send(422, {"message": f"No commit found for SHA: {sha}", "status": "422"})
            return
        body = self._json()
        errors = []
        if body.get("state") not in ("error", "failure", "pending", "success"):
            errors.append({"resource": "Status", "field": "state", "code": "custom"})
        if len(body.get("description") or "") > 140:
            errors.append(
                {
                    "resource": "Status",
                    "field": "description",
                    "code": "custom",
                    "message": "description is too long (maximum is 140 characters)",
                }
            )
        if errors:
            self._send(422, {"message": "Validation Failed", "errors": errors, "status": "422"})
            return
        status = {
            "id": next(_ids),
            "state": body["state"],
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context") or "default",
            "creator": {"login": "github-actions[bot]"},
        }
        state.statuses.setdefault((repository, sha), []).append(status)
        self._send(201, status)

    def _json(self) -> Any:
        return json.loads(self._body or b"{}")

    def _spend(self) -> bool:
        state = self.server.state
        if state.remaining <= 0:
            self._send(403, {"message": "API rate limit exceeded for user ID 1."})
            return False
        state.remaining -= 1
        return True

    def _list_pulls(
        self, repository: str, query: dict[str, list[str]], etag_wanted: str | None
    ) -> None:
        state = self.server.state
        if repository not in state.repository_ids:
            if self._spend():
                self._send(404, {"message": "Not Found", "status": "404"})
            return
        wanted = query.get("state", ["open"])[0]
        sort = query.get("sort", ["created"])[0]
        direction = query.get("direction", ["desc" if sort == "created" else "asc"])[0]
        if wanted not in ("open", "closed", "all") or sort != "created":
            self._send(422, {"message": "Validation Failed", "status": "422"})
            return
        pulls = [
            {k: v for k, v in body.items() if k not in SIMPLE_LEAVES_OUT}
            for (repo, _), body in state.pulls.items()
            if repo == repository and wanted in ("all", body["state"])
        ]
        pulls.sort(key=lambda b: (b["created_at"], b["number"]), reverse=direction == "desc")
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(pulls) // per_page))
        chunk = pulls[(page - 1) * per_page : page * per_page]
        base = (
            f"{self.server.url}/repositories/{state.repository_id(repository)}/pulls"
            f"?state={wanted}&sort={sort}&direction={direction}&per_page={per_page}&page="
        )
        headers = {"ETag": _etag(chunk)}
        links = []
        if page < last:
            links.append(f'<{base}{page + 1}>; rel="next"')
            links.append(f'<{base}{last}>; rel="last"')
        if links:
            headers["Link"] = ", ".join(links)
        if etag_wanted == headers["ETag"]:
            self._send(304, None, headers)
            return
        if self._spend():
            self._send(200, chunk, headers)

    def _list(self, items: list[dict[str, Any]], query: dict[str, list[str]], path: str) -> None:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        base = f"{self.server.url}{path}?per_page={per_page}&page="
        links = []
        if page < last:
            links.append(f'<{base}{page + 1}>; rel="next"')
            links.append(f'<{base}{last}>; rel="last"')
        self._send(200, chunk, {"Link": ", ".join(links)} if links else None)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()


def _etag(body: Any) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:20]
    return f'W/"{digest}"'


class FakeGitHubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = GitHubState()
        self.lock = threading.RLock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeGitHubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


def running() -> Iterator[FakeGitHubServer]:
    server = FakeGitHubServer().start()
    try:
        yield server
    finally:
        server.stop()
