"""pytest plugin (loaded through labkit's ``pytest11`` entry point).

- When a test fails, its report gets the tail of the log of every
  :class:`labkit.testing.ServiceProcess` still running, so the reason a service misbehaved
  is on screen, not in a temporary file.
- Every test leaves the logging configuration as it found it. An app's ``main()`` calls
  :func:`labkit.logs.configure_logging`, which points the root logger at ``sys.stderr``;
  under ``capsys`` that is a capture file pytest closes after the test, and every later
  log record anywhere in the run (a websockets server thread, say) then printed
  "--- Logging error --- ValueError: I/O operation on closed file" into another test's
  captured stderr and failed it.
"""

from __future__ import annotations

import logging
from collections.abc import Generator

import pytest

from labkit.testing import running_services

# The loggers configure_logging changes besides the root (labkit/logs.py).
_TOUCHED = ("httpx", "uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    root = logging.getLogger()
    saved = [(root, list(root.handlers), root.level, root.propagate)]
    for name in _TOUCHED:
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.level, logger.propagate))
    try:
        return (yield)
    finally:
        for logger, handlers, level, propagate in saved:
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for service in running_services():
            report.sections.append((f"service log: {service.name}", service.describe()))
    return report
