"""Benchmark: one preview stack (every database) run under the mocks and validated.

Target: under 2 s per stack, warm (imports and schema loading done once, as in `make render`).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from labinfra.offline.validate import crd_catalog, find_crd_schemas, validate_objects
from labpreview.offline import PullRequest, run_preview

CONFIG = (
    Path(__file__).resolve().parents[2]
    / "infra/preview/tests/fixtures/valid/all-databases-postgresql.yaml"
)


def main() -> None:
    text = CONFIG.read_text(encoding="utf-8")
    crds = crd_catalog(find_crd_schemas())
    run_preview(text, PullRequest(1, "main", "a" * 40))  # warm-up
    times = []
    for number in range(2, 7):
        started = time.perf_counter()
        run = run_preview(text, PullRequest(number, "main", "a" * 40))
        assert validate_objects(run, crds) == []
        times.append(time.perf_counter() - started)
    print(
        f"preview stack (all databases, {len(run.resources)} resources): "
        f"median {statistics.median(times):.3f} s, max {max(times):.3f} s over {len(times)} runs "
        f"(target < 2 s)"
    )


if __name__ == "__main__":
    main()
