"""Runs a Pulumi project's real `__main__.py` under Pulumi's mocks and records everything.

Every resource registration is captured with what the mocks alone do not expose: its
parent, provider reference, explicit dependencies, which input paths were secret, and
duplicate URNs. Stack outputs are captured with their secretness, so one project's outputs
can feed the next project's StackReference exactly as the engine would.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import os
import runpy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from labinfra.offline import fakes

_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 (Pulumi wire signature)
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
OUTPUT_STR_MARKER = "Calling __str__ on an Output"

PROVIDER_PREFIX = "pulumi:providers:"


@dataclass(frozen=True)
class Recorded:
    """One registered resource, as the engine would have received it."""

    order: int
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    dependencies: tuple[str, ...]
    inputs: Mapping[str, Any]
    secret_paths: frozenset[str]
    unknown_paths: frozenset[str]
    delete_before_replace: bool

    @property
    def is_kubernetes_object(self) -> bool:
        """A Kubernetes API object (not a provider, not a Helm release)."""
        return (
            self.custom
            and self.type.startswith("kubernetes:")
            and not self.type.startswith("kubernetes:helm.sh/")
            and "apiVersion" in self.inputs
            and "kind" in self.inputs
        )

    @property
    def is_helm_release(self) -> bool:
        return self.type.startswith("kubernetes:helm.sh/") and self.type.endswith(":Release")


@dataclass
class StackRun:
    """Everything one project+stack registered under the mocks."""

    project: str
    stack: str
    resources: list[Recorded]
    outputs: dict[str, Any]
    secret_outputs: frozenset[str]
    duplicate_urns: list[str]

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str) -> Recorded:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r} in {self.project}/{self.stack}")
        return found[0]

    def by_urn(self, urn: str) -> Recorded:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def kubernetes_objects(self) -> list[Recorded]:
        return [r for r in self.resources if r.is_kubernetes_object]

    def helm_releases(self) -> list[Recorded]:
        return [r for r in self.resources if r.is_helm_release]

    def depends_on(self, resource: Recorded, other: Recorded) -> bool:
        """Whether `resource` waits for `other`, directly or through its dependencies."""
        seen: set[str] = set()
        todo = list(resource.dependencies)
        while todo:
            urn = todo.pop()
            if urn == other.urn:
                return True
            if urn in seen:
                continue
            seen.add(urn)
            with contextlib.suppress(KeyError):
                todo.extend(self.by_urn(urn).dependencies)
        return False


class ProgramFailedError(RuntimeError):
    """The program raised; `run` holds what it had registered until then (`__cause__`: why)."""

    def __init__(self, run: StackRun) -> None:
        super().__init__(f"{run.project}/{run.stack} failed after {len(run.resources)} resources")
        self.run = run


@dataclass(frozen=True)
class StackOutputs:
    """Outputs of a stack as another stack's StackReference sees them."""

    values: Mapping[str, Any]
    secret_names: frozenset[str] = frozenset()


def fake_secret(key: str) -> str:
    """The value the harness gives a `secure:` config entry (ciphertext cannot be read here)."""
    return f"test-secret-{key}"


class _RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, stack_references: Mapping[str, StackOutputs]) -> None:
        self.stack_references = stack_references

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        typ = args.typ
        if typ == "pulumi:pulumi:StackReference":
            ref = self.stack_references.get(args.name)
            if ref is None:
                raise KeyError(f"no outputs given for StackReference {args.name!r}")
            return args.name, {
                "name": args.name,
                "outputs": dict(ref.values),
                "secretOutputNames": sorted(ref.secret_names),
            }
        state.update(_fake_outputs(typ, args.name, args.inputs))
        return f"{args.name}-id", state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _fake_outputs(typ: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Plausible provider-computed outputs, so code that uses them runs under the mocks."""
    pem = "-----BEGIN {0}-----\nbW9jaw==\n-----END {0}-----\n"
    if typ == "random:index/randomPassword:RandomPassword":
        password = fakes.random_password(name, int(inputs.get("length") or 16))
        return {"result": password, "bcryptHash": fakes.bcrypt_hash(password)}
    if typ == "tls:index/privateKey:PrivateKey":
        return {
            "privateKeyPem": pem.format("PRIVATE KEY"),
            "publicKeyPem": pem.format("PUBLIC KEY"),
            "publicKeyOpenssh": "ssh-ed25519 AAAAmock",
        }
    if typ in (
        "tls:index/selfSignedCert:SelfSignedCert",
        "tls:index/locallySignedCert:LocallySignedCert",
    ):
        return {"certPem": pem.format("CERTIFICATE")}
    if typ == "tls:index/certRequest:CertRequest":
        return {"certRequestPem": pem.format("CERTIFICATE REQUEST")}
    if typ == "command:remote:Command":
        if str(inputs.get("create") or "").rstrip().endswith("/k3s.yaml"):
            return {"stdout": fakes.k3s_kubeconfig(), "stderr": ""}
        return {"stdout": f"mock stdout of {name}", "stderr": ""}
    if typ.startswith("kubernetes:helm.sh/") and typ.endswith(":Release"):
        return {"status": {"status": "deployed", "name": inputs.get("name", name)}}
    return {}


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: _RecordingMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Recorded] = []
        self.duplicates: list[str] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type != "pulumi:pulumi:Stack":
            if urn in self.resources or any(r.urn == urn for r in self.recorded):
                self.duplicates.append(urn)
            wire = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
            secrets: set[str] = set()
            unknowns: set[str] = set()
            inputs = _unwrap(wire, "", secrets, unknowns)
            self.recorded.append(
                Recorded(
                    order=len(self.recorded),
                    urn=urn,
                    type=request.type,
                    name=request.name,
                    custom=bool(request.custom),
                    parent=request.parent,
                    provider=request.provider,
                    dependencies=tuple(request.dependencies),
                    inputs=inputs,
                    secret_paths=frozenset(secrets),
                    unknown_paths=frozenset(unknowns),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                )
            )
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def _unwrap(value: Any, path: str, secrets: set[str], unknowns: set[str]) -> Any:
    """Wire form -> plain values, noting where secrets and unknowns were."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SECRET_SIG:
            secrets.add(path)
            return _unwrap(value.get("value"), path, secrets, unknowns)
        if sig == _RESOURCE_SIG:
            return value.get("urn")
        return {
            k: _unwrap(v, f"{path}.{k}" if path else k, secrets, unknowns) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secrets, unknowns) for i, v in enumerate(value)]
    if value == _UNKNOWN:
        unknowns.add(path)
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def load_stack_config(project_dir: Path, stack: str) -> tuple[str, dict[str, Any]]:
    """The project's name and the `config:` map of `Pulumi.<stack>.yaml`."""
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text(encoding="utf-8"))
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    data = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
    return str(project["name"]), dict(data.get("config") or {})


def engine_config(project: str, config: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Stack-file config -> the string map and secret keys the engine hands a program."""
    flat: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in config.items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            flat[full] = fake_secret(full.split(":", 1)[1])
            secret_keys.append(full)
        elif isinstance(value, str):
            flat[full] = value
        elif isinstance(value, bool):
            flat[full] = "true" if value else "false"
        elif isinstance(value, int | float):
            flat[full] = str(value)
        else:
            if _has_secure(value):
                raise ValueError(f"{full}: secure values inside objects are not supported")
            flat[full] = json.dumps(value)
    return flat, secret_keys


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return "secure" in value or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@dataclass
class RunOptions:
    """What a test may change about a stack before running it."""

    overrides: dict[str, Any] = field(default_factory=dict)
    """Config keys (with or without namespace) to set; a value of None removes the key."""
    stack_references: Mapping[str, StackOutputs] = field(default_factory=dict)


def run_project(project_dir: Path, stack: str, options: RunOptions | None = None) -> StackRun:
    """Run `project_dir/__main__.py` for `stack` under the mocks; raise what the program raises."""
    options = options or RunOptions()
    project, config = load_stack_config(project_dir, stack)
    for key, value in options.overrides.items():
        full = key if ":" in key else f"{project}:{key}"
        config.pop(key, None)
        config.pop(full, None)
        if value is not None:
            config[full] = value
    flat, secret_keys = engine_config(project, config)
    # A fresh context and event loop per run: Pulumi keeps its settings, config and root
    # stack in context variables and schedules on the thread's current loop, which an
    # earlier asyncio.run() in the same process (another test) leaves closed and unset.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return contextvars.Context().run(
            _run_in_context, project_dir, project, stack, flat, secret_keys, options
        )
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _run_in_context(
    project_dir: Path,
    project: str,
    stack: str,
    flat: dict[str, str],
    secret_keys: list[str],
    options: RunOptions,
) -> StackRun:
    pulumi.runtime.set_all_config(flat, secret_keys)
    mocks = _RecordingMocks(options.stack_references)
    monitor = _RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    program = project_dir.resolve() / "__main__.py"

    def body() -> None:
        runpy.run_path(str(program), run_name="__main__")

    def result(outputs: dict[str, Any], secret_outputs: set[str]) -> StackRun:
        return StackRun(
            project=project,
            stack=stack,
            resources=list(monitor.recorded),
            outputs=outputs,
            secret_outputs=frozenset(secret_outputs),
            duplicate_urns=list(monitor.duplicates),
        )

    with _working_directory(project_dir):
        try:
            _sync_await(run_pulumi_func(body))
        except Exception as exc:
            raise ProgramFailedError(result({}, set())) from exc
        outputs, secret_outputs = _sync_await(_stack_outputs())
    return result(outputs, secret_outputs)


async def _stack_outputs() -> tuple[dict[str, Any], set[str]]:
    root = pulumi_settings.get_root_resource()
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for name, value in getattr(root, "outputs", {}).items():
        out = pulumi.Output.from_input(value)
        values[name] = await out.future()
        if await out.is_secret():
            secret.add(name)
    return values, secret
