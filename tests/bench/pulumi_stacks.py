"""Time to run every Pulumi stack under mocks and validate every object (target: < 15 s).

Prints the figures; run by `make bench`. One process, cold: imports, the three projects'
runs chained through StackReferences, Kubernetes and CRD schema validation, engine checks
and the policy pack.
"""

from __future__ import annotations

import time
from pathlib import Path

T0 = time.perf_counter()


from labinfra.offline.lab import inventory_overrides, run_lab  # noqa: E402
from labinfra.offline.validate import check_stack, crd_catalog, find_crd_schemas, validate_objects  # noqa: E402
from labpolicies.pack import pack_violations  # noqa: E402

TARGET_S = 15.0
INVENTORY = Path(__file__).resolve().parents[2] / "infra/labinfra/tests/fixtures/hosts.yml"


def main() -> None:
    imported = time.perf_counter()
    runs = run_lab("lab", overrides=inventory_overrides(INVENTORY))
    ran = time.perf_counter()
    crds = crd_catalog(find_crd_schemas())
    loaded = time.perf_counter()
    problems = 0
    objects = 0
    violations: list[str] = []
    for run in runs.values():
        problems += len(validate_objects(run, crds)) + len(check_stack(run))
        objects += len(run.kubernetes_objects())
        violations += pack_violations(run.resources)
    done = time.perf_counter()
    resources = sum(len(r.resources) for r in runs.values())
    total = done - T0
    print(f"stacks: {len(runs)}  resources: {resources}  kubernetes objects: {objects}")
    print(f"import            {imported - T0:6.2f} s")
    print(f"run under mocks   {ran - imported:6.2f} s")
    print(f"load CRD schemas  {loaded - ran:6.2f} s")
    print(f"validate+policies {done - loaded:6.2f} s")
    verdict = "met" if total < TARGET_S else "MISSED"
    print(f"total             {total:6.2f} s  (target < {TARGET_S:.0f} s: {verdict})")
    print(f"problems: {problems}  policy violations: {len(violations)}")


if __name__ == "__main__":
    main()
