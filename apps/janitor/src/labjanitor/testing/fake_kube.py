"""A local HTTP server that answers a small part of the Kubernetes API as the API server does.

Used by tests where no API server can run (no k3s here). It speaks real HTTP on loopback so
the official `kubernetes` client is exercised end to end (URLs, query parameters, bodies,
content types, (de)serialisation). What it models, from the Kubernetes API conventions:
- lists carry `kind: <Kind>List`, `metadata.continue` when `limit` cuts them; label
  selectors of `key=value` terms joined by commas;
- PATCH requires a patch content type; a JSON merge patch (RFC 7386) where `null` removes a
  key; a map body sent as `application/json-patch+json` is refused with 400 like the server
  (which expects a list of operations there);
- DELETE honours `preconditions.uid` (409 Conflict when it differs); errors are `Status`
  objects with `code`, `reason` and `message`;
- the `scale` subresource of Deployments and StatefulSets answers an `autoscaling/v1 Scale`.
It does not model admission, watches, finalizers or RBAC.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_counter = itertools.count(1)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@dataclass
class KubeState:
    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    """(collection, namespace, name) -> object; collection like `apps/v1/deployments`."""
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[tuple[str, str], int] = field(default_factory=dict)
    """(method, path regex) -> status to answer instead (stays until removed)."""

    def add_namespace(
        self,
        name: str,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        created: str = "2026-01-01T00:00:00Z",
    ) -> dict[str, Any]:
        obj = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": str(uuid.uuid4()),
                "resourceVersion": str(next(_counter)),
                "creationTimestamp": created,
                "labels": dict(labels or {}),
                "annotations": dict(annotations or {}),
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        self.namespaces[name] = obj
        return obj

    def add_object(
        self, collection: str, namespace: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        meta.update({"name": name, "namespace": namespace, "uid": str(uuid.uuid4())})
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        meta["resourceVersion"] = str(next(_counter))
        self.objects[(collection, namespace, name)] = obj
        return obj


_KINDS = {
    "apps/v1/deployments": ("apps/v1", "Deployment"),
    "apps/v1/statefulsets": ("apps/v1", "StatefulSet"),
    "postgresql.cnpg.io/v1/clusters": ("postgresql.cnpg.io/v1", "Cluster"),
    "v1/configmaps": ("v1", "ConfigMap"),
}
_NAMESPACED = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+/[^/]+))/namespaces/(?P<ns>[^/]+)/"
    r"(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>scale))?$"
)


class _Handler(BaseHTTPRequestHandler):
    server: FakeKubeServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _route(self, method: str) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        with self.server.lock:
            state.requests.append((method, self.path))
            for (fail_method, pattern), code in state.fail.items():
                if fail_method == method and re.search(pattern, path):
                    self._send(code, _status(code, "InternalError", f"injected {code}"))
                    return
            body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else None
            if method == "PATCH" and not self._patch_type_ok(body):
                return
            if path == "/api/v1/namespaces" and method == "GET":
                self._list_namespaces(query)
                return
            match = re.match(r"^/api/v1/namespaces/([^/]+)$", path)
            if match:
                self._namespace(method, match.group(1), body)
                return
            match = _NAMESPACED.match(path)
            if match:
                self._namespaced(method, match, body, query)
                return
            self._send(404, _status(404, "NotFound", f"the server could not find {path}"))

    def _patch_type_ok(self, body: Any) -> bool:
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("application/json-patch+json") and not isinstance(body, list):
            self._send(
                400,
                _status(
                    400,
                    "BadRequest",
                    "json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp",
                ),
            )
            return False
        if not ctype.startswith(
            (
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/json-patch+json",
            )
        ):
            self._send(
                415, _status(415, "UnsupportedMediaType", f"the body is in {ctype!r} format")
            )
            return False
        return True

    def _list_namespaces(self, query: dict[str, list[str]]) -> None:
        selector = _selector(query.get("labelSelector", [""])[0])
        items = [
            ns
            for ns in sorted(
                self.server.state.namespaces.values(), key=lambda n: n["metadata"]["name"]
            )
            if all(ns["metadata"].get("labels", {}).get(k) == v for k, v in selector)
        ]
        limit = int(query.get("limit", ["0"])[0] or 0)
        start = int(query.get("continue", ["0"])[0] or 0)
        page = items[start : start + limit] if limit else items[start:]
        more = limit and start + limit < len(items)
        self._send(
            200,
            {
                "kind": "NamespaceList",
                "apiVersion": "v1",
                "metadata": {
                    "resourceVersion": "1",
                    **({"continue": str(start + limit)} if more else {}),
                },
                "items": page,
            },
        )

    def _namespace(self, method: str, name: str, body: Any) -> None:
        state = self.server.state
        ns = state.namespaces.get(name)
        if ns is None:
            self._send(404, _status(404, "NotFound", f'namespaces "{name}" not found'))
            return
        if method == "GET":
            self._send(200, ns)
        elif method == "PATCH":
            ns["metadata"] = merge_patch(ns["metadata"], (body or {}).get("metadata", {}))
            ns["metadata"]["resourceVersion"] = str(next(_counter))
            self._send(200, ns)
        elif method == "DELETE":
            uid = ((body or {}).get("preconditions") or {}).get("uid")
            if uid and uid != ns["metadata"]["uid"]:
                self._send(
                    409,
                    _status(
                        409,
                        "Conflict",
                        f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                        f"{ns['metadata']['uid']}",
                    ),
                )
                return
            del state.namespaces[name]
            self._send(200, {**ns, "status": {"phase": "Terminating"}})
        else:
            self._send(405, _status(405, "MethodNotAllowed", method))

    def _namespaced(self, method: str, match: re.Match[str], body: Any, query: Any) -> None:
        state = self.server.state
        group = match["core"] or match["group"]
        collection = f"{group}/{match['plural']}"
        ns, name, sub = match["ns"], match["name"], match["sub"]
        if collection not in _KINDS:
            self._send(404, _status(404, "NotFound", f"no resource {collection}"))
            return
        api_version, kind = _KINDS[collection]
        if name is None and method == "GET":
            items = [
                o for (c, n, _), o in sorted(state.objects.items()) if c == collection and n == ns
            ]
            self._send(
                200,
                {"kind": f"{kind}List", "apiVersion": api_version, "metadata": {}, "items": items},
            )
            return
        if name is None and method == "POST":
            obj_name = (body or {}).get("metadata", {}).get("name", "")
            if (collection, ns, obj_name) in state.objects:
                self._send(
                    409,
                    _status(409, "AlreadyExists", f'{match["plural"]} "{obj_name}" already exists'),
                )
                return
            self._send(201, state.add_object(collection, ns, obj_name, body or {}))
            return
        key = (collection, ns, name or "")
        obj = state.objects.get(key)
        if obj is None:
            self._send(404, _status(404, "NotFound", f'{match["plural"]} "{name}" not found'))
            return
        if method == "GET":
            self._send(200, obj)
        elif method == "PUT":
            replaced = state.add_object(collection, ns, name or "", body or {})
            self._send(200, replaced)
        elif method == "PATCH" and sub == "scale":
            obj.setdefault("spec", {})["replicas"] = (body or {}).get("spec", {}).get("replicas")
            self._send(
                200,
                {
                    "kind": "Scale",
                    "apiVersion": "autoscaling/v1",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"replicas": obj["spec"]["replicas"]},
                    "status": {"replicas": obj["spec"]["replicas"]},
                },
            )
        elif method == "PATCH":
            state.objects[key] = merge_patch(obj, body or {})
            self._send(200, state.objects[key])
        else:
            self._send(405, _status(405, "MethodNotAllowed", method))

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def do_DELETE(self) -> None:
        self._route("DELETE")


def _selector(text: str) -> list[tuple[str, str]]:
    terms = []
    for term in filter(None, text.split(",")):
        key, _, value = term.partition("=")
        terms.append((key, value))
    return terms


class FakeKubeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = KubeState()
        self.lock = threading.RLock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeKubeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


def running() -> Iterator[FakeKubeServer]:
    """A started server, stopped afterwards (use as a pytest fixture body)."""
    server = FakeKubeServer().start()
    try:
        yield server
    finally:
        server.stop()
