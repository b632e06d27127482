"""TrueNAS periodic snapshot tasks for the datasets the lab uses, as code.

The tasks are declared in infra/truenas/snapshot-tasks.yml and reconciled against TrueNAS
over its JSON-RPC 2.0 WebSocket API (`wss://<host>/api/current`, SCALE 25.04+), verified
against the lab CA, authenticated with an API key:

    labinfra-truenas-snapshots --host truenas.lab.internal --api-key-file key  # plan
    labinfra-truenas-snapshots --host truenas.lab.internal --api-key-file key --apply

API facts (truenas/middleware, read at its stored versions):
- src/middlewared_docs/docs/jsonrpc.rst: requests `{"jsonrpc": "2.0", "id", "method",
  "params": [...]}`, answers `{"jsonrpc": "2.0", "id", "result"}` or `{"error": {"code",
  "message", "data": {"error", "errname", "reason", ...}}}`.
- src/middlewared/middlewared/api/v25_04_0/pool_snapshottask.py: `pool.snapshottask.create`
  (data), `.update` (id, data), `.delete` (id), entries with `id`, `dataset`, `recursive`,
  `lifetime_value`, `lifetime_unit` (HOUR|DAY|WEEK|MONTH|YEAR), `enabled`, `exclude`,
  `naming_schema`, `allow_empty`, `schedule` (CronModel minute/hour/dom/month/dow, plus
  begin/end "HH:MM"); `pool.snapshottask.query` takes QueryArgs filters
  (api/v25_04_0/common.py).
- `auth.login_with_api_key` [key] logs the connection in (truenas/api_client).

Ownership: the lab manages only tasks whose naming schema starts with `lab-`; tasks made by
hand (any other schema) are never changed or deleted.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import ssl
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from websockets.sync.client import connect

OWNED_PREFIX = "lab-"


class TrueNasError(RuntimeError):
    """TrueNAS answered a call with an error; the message carries its reason."""


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    minute: str = "0"
    hour: str = "*"
    dom: str = "*"
    month: str = "*"
    dow: str = "*"
    begin: str = Field(default="00:00", pattern=r"^\d\d:\d\d$")
    end: str = Field(default="23:59", pattern=r"^\d\d:\d\d$")


class _SnakeModel(BaseModel):
    """TrueNAS's own field names (snake_case), unknown keys refused, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SnapshotTask(_SnakeModel):
    """One periodic snapshot task (the fields of PoolSnapshotTaskCreate, snake_case)."""

    dataset: str = Field(pattern=r"^[A-Za-z0-9_.:-]+(/[A-Za-z0-9_.:-]+)*$")
    recursive: bool = False
    lifetime_value: int = Field(ge=1)
    lifetime_unit: Literal["HOUR", "DAY", "WEEK", "MONTH", "YEAR"]
    naming_schema: str
    schedule: Schedule = Field(default_factory=Schedule)
    enabled: bool = True
    exclude: list[str] = Field(default_factory=list)
    allow_empty: bool = False

    @field_validator("naming_schema")
    @classmethod
    def _owned(cls, value: str) -> str:
        if not value.startswith(OWNED_PREFIX):
            raise ValueError(f"must start with {OWNED_PREFIX!r} (how the lab knows its own tasks)")
        missing = [f for f in ("%Y", "%m", "%d", "%H", "%M") if f not in value]
        if missing:
            raise ValueError(f"needs {' '.join(missing)} (TrueNAS SnapshotNameSchema)")
        return value

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def key(self) -> tuple[str, str]:
        return self.dataset, self.naming_schema


class SnapshotTasks(_SnakeModel):
    tasks: list[SnapshotTask] = Field(min_length=1)

    @field_validator("tasks")
    @classmethod
    def _unique(cls, tasks: list[SnapshotTask]) -> list[SnapshotTask]:
        keys = [t.key for t in tasks]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"declared twice (dataset, naming schema): {twice}")
        return tasks


def load_tasks(path: Path) -> list[SnapshotTask]:
    """The declared tasks; ValueError naming each bad field."""
    try:
        return SnapshotTasks.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).tasks
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ValueError(f"{path}:\n  " + "\n  ".join(lines)) from None


# -- the API -------------------------------------------------------------------------------


class Api(Protocol):
    def call(self, method: str, *params: Any) -> Any: ...


class JsonRpcClient:
    """A synchronous JSON-RPC 2.0 client of TrueNAS's WebSocket API."""

    def __init__(self, url: str, ssl_context: ssl.SSLContext | None, timeout: float = 30) -> None:
        self._stack = contextlib.ExitStack()
        self._socket = self._stack.enter_context(
            connect(url, ssl=ssl_context, open_timeout=timeout, close_timeout=timeout)
        )
        self._ids = itertools.count(1)
        self._timeout = timeout

    def __enter__(self) -> JsonRpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def call(self, method: str, *params: Any) -> Any:
        request_id = next(self._ids)
        request = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}
        self._socket.send(json.dumps(request))
        while True:
            message = json.loads(self._socket.recv(timeout=self._timeout))
            if message.get("id") != request_id:
                continue  # a notification (collection_update, ...) between answers
            if "error" in message:
                error = message["error"]
                reason = (error.get("data") or {}).get("reason") or error.get("message")
                raise TrueNasError(f"{method}: {reason}")
            return message.get("result")


def login(api: Api, api_key: str) -> None:
    if api.call("auth.login_with_api_key", api_key) is not True:
        raise TrueNasError("auth.login_with_api_key: the API key was refused")


# -- reconciling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    action: Literal["create", "update", "delete"]
    key: tuple[str, str]
    task_id: int | None = None
    payload: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"{self.action} {self.key[0]} ({self.key[1]})" + (
            f" [id {self.task_id}]" if self.task_id is not None else ""
        )


def _comparable(entry: dict[str, Any]) -> dict[str, Any]:
    fields = SnapshotTask.model_fields
    out = {k: entry.get(k) for k in fields if k != "schedule"}
    schedule = entry.get("schedule") or {}
    out["schedule"] = {k: str(schedule.get(k)) for k in Schedule.model_fields}
    return out


def plan(existing: Sequence[dict[str, Any]], desired: Sequence[SnapshotTask]) -> list[Change]:
    """What makes TrueNAS's lab-owned tasks equal the declared ones (others are left alone)."""
    owned = {
        (e["dataset"], e["naming_schema"]): e
        for e in existing
        if str(e.get("naming_schema", "")).startswith(OWNED_PREFIX)
    }
    changes: list[Change] = []
    for task in desired:
        current = owned.pop(task.key, None)
        payload = task.payload()
        if current is None:
            changes.append(Change("create", task.key, payload=payload))
        elif _comparable(current) != _comparable(payload):
            changes.append(Change("update", task.key, int(current["id"]), payload))
    for key, entry in sorted(owned.items()):
        changes.append(Change("delete", key, int(entry["id"])))
    return changes


def apply(api: Api, changes: Sequence[Change]) -> None:
    for change in changes:
        if change.action == "create":
            api.call("pool.snapshottask.create", change.payload)
        elif change.action == "update":
            api.call("pool.snapshottask.update", change.task_id, change.payload)
        else:
            # Snapshots already taken keep their own expiry (fixate_removal_date false
            # would let them live forever; true keeps the deleted task's retention).
            api.call("pool.snapshottask.delete", change.task_id, {"fixate_removal_date": True})


def reconcile(api: Api, desired: Sequence[SnapshotTask], *, dry_run: bool) -> list[Change]:
    existing = api.call("pool.snapshottask.query", [], {})
    changes = plan(existing, desired)
    if not dry_run:
        apply(api, changes)
    return changes


# -- command line --------------------------------------------------------------------------


def _context(ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labinfra-truenas-snapshots", description=__doc__)
    parser.add_argument("--host", required=True, help="TrueNAS host[:port]")
    parser.add_argument("--api-key-file", type=Path, required=True)
    parser.add_argument("--ca-file", type=Path, help="the lab CA (default: system CAs)")
    parser.add_argument(
        "--tasks",
        type=Path,
        default=Path(__file__).resolve().parents[3] / "truenas" / "snapshot-tasks.yml",
    )
    parser.add_argument("--apply", action="store_true", help="make the changes (else plan)")
    args = parser.parse_args(argv)
    try:
        desired = load_tasks(args.tasks)
        key = args.api_key_file.read_text(encoding="utf-8").strip()
        with JsonRpcClient(f"wss://{args.host}/api/current", _context(args.ca_file)) as api:
            login(api, key)
            changes = reconcile(api, desired, dry_run=not args.apply)
    except (ValueError, OSError, TrueNasError) as exc:
        print(f"labinfra-truenas-snapshots: {exc}", file=sys.stderr)
        return 2
    for line in _report(changes, applied=args.apply):
        print(line)
    return 0


def _report(changes: Sequence[Change], *, applied: bool) -> Iterator[str]:
    if not changes:
        yield "snapshot tasks: up to date"
        return
    for change in changes:
        yield f"{'applied' if applied else 'would'} {change}"
