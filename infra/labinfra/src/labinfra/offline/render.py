"""`make render`: the Kubernetes objects each stack would create, as YAML for review.

Written from the same mocked run the tests check, under build/rendered/<project>/<stack>/.
Helm releases appear as their chart, version and values (the chart itself is never
templated). This does not replace `pulumi preview` against the cluster.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from labinfra.inventory import InventoryError
from labinfra.offline.harness import ProgramFailedError, Recorded, StackRun
from labinfra.offline.lab import inventory_overrides, run_lab
from labinfra.offline.validate import kubernetes_object
from labinfra.stackconfig import StackConfigError

REDACTED = "<secret>"
REDACTED_BYTES = base64.b64encode(REDACTED.encode()).decode()
"""A redacted value of a Secret's `data`, which holds base64 (so the object stays valid)."""


def redact(value: Any, path: str, secret_paths: frozenset[str]) -> Any:
    """`value` with every secret input replaced, so rendered files can be shared.

    A secret map (a Secret's `data` or `stringData`) keeps its keys, so the rendered object
    still shows what it carries and still validates; only the values are replaced.
    """
    if path in secret_paths:
        if isinstance(value, dict):
            filler = REDACTED_BYTES if path.rsplit(".", 1)[-1] == "data" else REDACTED
            return dict.fromkeys(value, filler)
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, f"{path}.{k}" if path else k, secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, f"{path}[{i}]", secret_paths) for i, v in enumerate(value)]
    return value


def _document(resource: Recorded) -> dict[str, Any]:
    if resource.is_helm_release:
        inputs = redact(dict(resource.inputs), "", resource.secret_paths)
        return {
            "helmRelease": inputs.get("name", resource.name),
            "namespace": inputs.get("namespace"),
            "chart": inputs.get("chart"),
            "version": inputs.get("version"),
            "repository": (inputs.get("repositoryOpts") or {}).get("repo", ""),
            "values": inputs.get("values", {}),
        }
    if resource.is_kubernetes_object:
        return dict(redact(kubernetes_object(resource), "", resource.secret_paths))
    return {
        "pulumiResource": resource.type,
        "name": resource.name,
        "inputs": redact(dict(resource.inputs), "", resource.secret_paths),
    }


def render_run(run: StackRun, out: Path) -> list[Path]:
    """Write one file per resource (custom resources only); returns the files written."""
    folder = out / run.project / run.stack
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    written = []
    for resource in run.resources:
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            continue
        path = folder / f"{resource.order:03d}-{resource.name}.yaml"
        path.write_text(yaml.safe_dump(_document(resource), sort_keys=False), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labinfra-render", description=__doc__)
    parser.add_argument("--stack", default="lab")
    parser.add_argument("--out", type=Path, default=Path("build/rendered"))
    parser.add_argument(
        "--inventory", type=Path, help="use this inventory instead of the stack files' path"
    )
    args = parser.parse_args(argv)
    overrides = inventory_overrides(args.inventory) if args.inventory else None
    try:
        runs = run_lab(args.stack, overrides=overrides)
    except ProgramFailedError as exc:
        cause = exc.__cause__
        if isinstance(cause, StackConfigError | InventoryError):
            print(f"labinfra-render: {exc}: {cause}", file=sys.stderr)
            return 2
        raise
    print(
        "labinfra-render: the cluster stack is rendered with stand-in k3s checksums "
        "(labinfra.offline.lab.stand_in_checksums), not the release's",
        file=sys.stderr,
    )
    for run in runs.values():
        files = render_run(run, args.out)
        print(
            f"{run.project}/{run.stack}: {len(files)} files in {args.out / run.project / run.stack}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
