"""pytest plugin (loaded through labkit's ``pytest11`` entry point): when a test fails, its
report gets the tail of the log of every :class:`labkit.testing.ServiceProcess` still
running, so the reason a service misbehaved is on screen, not in a temporary file."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from labkit.testing import running_services


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for service in running_services():
            report.sections.append((f"service log: {service.name}", service.describe()))
    return report
