"""The entry-point wrapper every app's console script uses."""

from __future__ import annotations

import sys
from collections.abc import Callable

from labkit.settings import EXIT_CONFIG, ConfigError


def run_main(program: str, main: Callable[[], int | None]) -> None:
    """Run ``main``; a :class:`ConfigError` ends in readable lines on stderr and status 2,
    not a traceback, and Ctrl-C in a quiet exit with 130."""
    try:
        code = main()
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"{program}: configuration error: {line}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code or 0)
