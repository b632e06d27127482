from __future__ import annotations

import pytest

from daq.core.scans import expand_range


@pytest.mark.parametrize(
    ("start", "stop", "step", "expected"),
    [
        (0, 90, 15, [0, 15, 30, 45, 60, 75, 90]),
        (0, 1, 0.1, [round(i / 10, 9) for i in range(11)]),
        (10, 0, 5, [10, 5, 0]),
        (10, 0, -5, [10, 5, 0]),
        (0, 10, 4, [0, 4, 8]),
        (3, 3, 1, [3]),
    ],
)
def test_expand_range(start: float, stop: float, step: float, expected: list[float]) -> None:
    assert expand_range(start, stop, step) == expected


def test_expand_range_refuses_zero_step() -> None:
    with pytest.raises(ValueError, match="non-zero"):
        expand_range(0, 1, 0)
