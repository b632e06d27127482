"""TrueNAS periodic snapshot tasks, reconciled over the JSON-RPC 2.0 WebSocket API.

There is no TrueNAS here, and no simulator of it exists. These tests run the client
against a local WebSocket server over TLS (a CA made with openssl, like the lab CA) that
answers as truenas/middleware documents its API: the JSON-RPC envelope and error shape of
src/middlewared_docs/docs/jsonrpc.rst, `auth.login_with_api_key`, and the
`pool.snapshottask.*` methods with the fields, defaults, enums and strictness (unknown
fields refused) of src/middlewared/middlewared/api/v25_04_0/pool_snapshottask.py and the
CronModel of api/v25_04_0/common.py. The fake is written from those documents, not from
the client, and it also sends a notification between answers, as the real API may.
"""

from __future__ import annotations

import itertools
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import Server, ServerConnection, serve

from labinfra.truenas import (
    JsonRpcClient,
    SnapshotTask,
    TrueNasError,
    load_tasks,
    login,
    main,
    plan,
    reconcile,
)

TASKS = Path(__file__).resolve().parents[2] / "truenas" / "snapshot-tasks.yml"
API_KEY = "1-labkey"  # TrueNAS keys look like <id>-<secret>

CREATE_FIELDS = {
    # PoolSnapshotTaskCreate and its defaults (api/v25_04_0/pool_snapshottask.py)
    "dataset": None,
    "recursive": False,
    "lifetime_value": 2,
    "lifetime_unit": "WEEK",
    "enabled": True,
    "exclude": [],
    "naming_schema": "auto-%Y-%m-%d_%H-%M",
    "allow_empty": True,
    "schedule": None,
}
CRON_DEFAULTS = {  # PoolSnapshotTaskCron over CronModel (api/v25_04_0/common.py)
    "minute": "00",
    "hour": "*",
    "dom": "*",
    "month": "*",
    "dow": "*",
    "begin": "00:00",
    "end": "23:59",
}
UNITS = {"HOUR", "DAY", "WEEK", "MONTH", "YEAR"}


class ApiError(Exception):
    def __init__(self, errname: str, reason: str) -> None:
        super().__init__(reason)
        self.errname = errname
        self.reason = reason


@dataclass
class FakeTrueNas:
    """The state and the methods; one instance per test."""

    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def validate(self, data: Any, *, partial: bool) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ApiError("EINVAL", "data: Input should be a valid dictionary")
        extra = set(data) - set(CREATE_FIELDS) - ({"fixate_removal_date"} if partial else set())
        if extra:
            raise ApiError("EINVAL", f"data.{sorted(extra)[0]}: Extra inputs are not permitted")
        if not partial and "dataset" not in data:
            raise ApiError("EINVAL", "data.dataset: Field required")
        if "lifetime_unit" in data and data["lifetime_unit"] not in UNITS:
            raise ApiError("EINVAL", "data.lifetime_unit: Input should be 'HOUR', ...")
        schedule = data.get("schedule")
        if schedule is not None:
            unknown = set(schedule) - set(CRON_DEFAULTS)
            if unknown:
                raise ApiError("EINVAL", f"data.schedule.{sorted(unknown)[0]}: Extra inputs")
        return dict(data)

    def handle(self, method: str, params: list[Any], authenticated: bool) -> Any:
        self.calls.append(method)
        if method == "auth.login_with_api_key":
            return params == [API_KEY]
        if not authenticated:
            raise ApiError("ENOTAUTHENTICATED", "Not authenticated")
        if method == "pool.snapshottask.query":
            return [dict(t) for t in self.tasks.values()]
        if method == "pool.snapshottask.create":
            data = self.validate(params[0], partial=False)
            entry = {k: v for k, v in CREATE_FIELDS.items() if k != "schedule"}
            entry.update({k: v for k, v in data.items() if k != "schedule"})
            entry["schedule"] = {**CRON_DEFAULTS, **(data.get("schedule") or {})}
            entry.update(id=next(self.ids), vmware_sync=False, state={"state": "PENDING"})
            self.tasks[entry["id"]] = entry
            return dict(entry)
        if method == "pool.snapshottask.update":
            task_id, data = params
            if task_id not in self.tasks:
                raise ApiError("ENOENT", f"PoolSnapshotTask {task_id} does not exist")
            data = self.validate(data, partial=True)
            data.pop("fixate_removal_date", None)
            entry = self.tasks[task_id]
            schedule = {**entry["schedule"], **(data.pop("schedule", None) or {})}
            entry.update(data, schedule=schedule)
            return dict(entry)
        if method == "pool.snapshottask.delete":
            task_id = params[0]
            if task_id not in self.tasks:
                raise ApiError("ENOENT", f"PoolSnapshotTask {task_id} does not exist")
            options = params[1] if len(params) > 1 else {}
            if set(options) - {"fixate_removal_date"}:
                raise ApiError("EINVAL", "options: Extra inputs are not permitted")
            del self.tasks[task_id]
            return True
        raise ApiError("ENOMETHOD", f"Method {method!r} not found")

    def serve(self, connection: ServerConnection) -> None:
        authenticated = False
        for raw in connection:
            request = json.loads(raw)
            # An event between answers: a client must match answers by id.
            connection.send(
                json.dumps({"jsonrpc": "2.0", "method": "collection_update", "params": {}})
            )
            try:
                result = self.handle(request["method"], request.get("params", []), authenticated)
                if request["method"] == "auth.login_with_api_key" and result is True:
                    authenticated = True
                answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"], "result": result}
            except ApiError as exc:
                answer = {
                    "jsonrpc": "2.0",
                    "id": request["id"],
                    "error": {
                        "code": -32001,
                        "message": "Method call error",
                        "data": {"error": 22, "errname": exc.errname, "reason": exc.reason},
                    },
                }
            connection.send(json.dumps(answer))


@dataclass(frozen=True)
class Pki:
    ca: Path
    other_ca: Path
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    for name in ("ca", "other"):
        openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
            "-subj", f"/CN={name} test CA",
        )  # fmt: skip
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
    )  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext",
    )  # fmt: skip
    return Pki(
        folder / "ca.crt", folder / "other.crt", folder / "server.crt", folder / "server.key"
    )


@pytest.fixture
def truenas(pki: Pki) -> Iterator[tuple[FakeTrueNas, str]]:
    fake = FakeTrueNas()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert, pki.key)
    server: Server = serve(fake.serve, "127.0.0.1", 0, ssl=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.socket.getsockname()[1]
    try:
        yield fake, f"127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _client(address: str, ca: Path) -> JsonRpcClient:
    return JsonRpcClient(f"wss://{address}/api/current", ssl.create_default_context(cafile=ca))


def test_the_declared_tasks_are_created_then_left_alone(
    truenas: tuple[FakeTrueNas, str], pki: Pki
) -> None:
    fake, address = truenas
    desired = load_tasks(TASKS)
    with _client(address, pki.ca) as api:
        login(api, API_KEY)
        first = reconcile(api, desired, dry_run=False)
        assert [c.action for c in first] == ["create"] * len(desired)
        # TrueNAS fills in what was left out; the second run sees no difference.
        second = reconcile(api, desired, dry_run=False)
    assert second == []
    assert len(fake.tasks) == len(desired)
    stored = {(t["dataset"], t["naming_schema"]): t for t in fake.tasks.values()}
    hourly = stored[("tank/k8s/nfs/volumes", "lab-hourly-%Y-%m-%d_%H-%M")]
    assert hourly["lifetime_value"] == 2
    assert hourly["lifetime_unit"] == "DAY"
    assert hourly["schedule"]["hour"] == "*"
    assert hourly["recursive"] is True
    assert fake.calls.count("pool.snapshottask.create") == len(desired)
    assert "pool.snapshottask.update" not in fake.calls


def test_changed_extra_and_hand_made_tasks(truenas: tuple[FakeTrueNas, str], pki: Pki) -> None:
    fake, address = truenas
    desired = load_tasks(TASKS)
    with _client(address, pki.ca) as api:
        login(api, API_KEY)
        reconcile(api, desired, dry_run=False)
        hand = api.call(
            "pool.snapshottask.create",
            {"dataset": "tank/media", "naming_schema": "auto-%Y-%m-%d_%H-%M"},
        )
        stale = api.call(
            "pool.snapshottask.create",
            {"dataset": "tank/old", "naming_schema": "lab-daily-%Y-%m-%d_%H-%M"},
        )
        drifted = next(t for t in fake.tasks.values() if t["dataset"] == "tank/backups")
        drifted["lifetime_value"] = 9
        drifted["schedule"]["hour"] = "5"
        preview = reconcile(api, desired, dry_run=True)
        assert sorted((c.action, c.key[0]) for c in preview) == [
            ("delete", "tank/old"),
            ("update", "tank/backups"),
        ]
        assert drifted["lifetime_value"] == 9, "a dry run changes nothing"
        reconcile(api, desired, dry_run=False)
    assert hand["id"] in fake.tasks, "a task the lab does not own is never touched"
    assert stale["id"] not in fake.tasks
    backups = next(t for t in fake.tasks.values() if t["dataset"] == "tank/backups")
    assert backups["lifetime_value"] == 1
    assert backups["schedule"]["hour"] == "4"


def test_a_refused_key_and_an_unauthenticated_call_fail(
    truenas: tuple[FakeTrueNas, str], pki: Pki
) -> None:
    _, address = truenas
    with _client(address, pki.ca) as api:
        with pytest.raises(TrueNasError, match="API key was refused"):
            login(api, "1-wrong")
        with pytest.raises(TrueNasError, match=r"pool\.snapshottask\.query: Not authenticated"):
            api.call("pool.snapshottask.query", [], {})


def test_the_api_refuses_what_the_documented_model_does_not_have(
    truenas: tuple[FakeTrueNas, str], pki: Pki
) -> None:
    """The fake is strict like TrueNAS's models, so the client's payloads are checked."""
    _, address = truenas
    with _client(address, pki.ca) as api:
        login(api, API_KEY)
        with pytest.raises(TrueNasError, match=r"data\.retention: Extra inputs are not permitted"):
            api.call("pool.snapshottask.create", {"dataset": "tank/x", "retention": 3})


def test_tls_is_verified_against_the_given_ca(truenas: tuple[FakeTrueNas, str], pki: Pki) -> None:
    _, address = truenas
    with pytest.raises(ssl.SSLCertVerificationError):
        _client(address, pki.other_ca)


def test_the_command_plans_then_applies(
    truenas: tuple[FakeTrueNas, str],
    pki: Pki,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, address = truenas
    key = tmp_path / "key"
    key.write_text(API_KEY + "\n")
    args = ["--host", address, "--api-key-file", str(key), "--ca-file", str(pki.ca)]
    assert main(args) == 0
    assert (
        "would create tank/k8s/nfs/volumes (lab-hourly-%Y-%m-%d_%H-%M)" in capsys.readouterr().out
    )
    assert fake.tasks == {}
    assert main([*args, "--apply"]) == 0
    assert len(fake.tasks) == len(load_tasks(TASKS))
    capsys.readouterr()
    assert main([*args, "--apply"]) == 0
    assert capsys.readouterr().out == "snapshot tasks: up to date\n"
    key.write_text("1-wrong")
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "labinfra-truenas-snapshots: auth.login_with_api_key: the API key was refused\n"
    )


def test_declarations_are_checked(tmp_path: Path) -> None:
    bad = tmp_path / "tasks.yml"
    rows = [
        "{dataset: tank/a, naming_schema: auto-%Y-%m-%d_%H-%M, lifetime_value: 1,"
        " lifetime_unit: DAY}",
        "{dataset: tank/b, naming_schema: lab-%Y-%m-%d, lifetime_value: 1, lifetime_unit: DAY}",
        "{dataset: tank/c, naming_schema: lab-%Y-%m-%d_%H-%M, lifetime_value: 1,"
        " lifetime_unit: DECADE}",
    ]
    bad.write_text("tasks:\n" + "".join(f"  - {row}\n" for row in rows))
    with pytest.raises(ValueError, match="tasks") as failed:
        load_tasks(bad)
    text = str(failed.value)
    assert "tasks.0.naming_schema: Value error, must start with 'lab-'" in text
    assert "tasks.1.naming_schema: Value error, needs %H %M" in text
    assert "tasks.2.lifetime_unit" in text


def test_plan_compares_what_truenas_returns() -> None:
    task = SnapshotTask(
        dataset="tank/a",
        naming_schema="lab-%Y-%m-%d_%H-%M",
        lifetime_value=1,
        lifetime_unit="DAY",
    )
    stored = {**task.payload(), "id": 7, "vmware_sync": False, "state": {}}
    assert plan([stored], [task]) == []
    assert [c.action for c in plan([{**stored, "enabled": False}], [task])] == ["update"]
