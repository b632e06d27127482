"""Structured logging that reads well both in a terminal and in journald.

Messages carry fields as ``key=value`` pairs (logfmt), so ``journalctl -u picotemp-exporter
| grep reason=timeout`` works. Under systemd (``$JOURNAL_STREAM`` names our stderr) each
line starts with the sd-daemon ``<N>`` priority prefix and drops the timestamp, because
journald records time and priority itself; ``journalctl -p warning`` then filters properly.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, TextIO

_FIELDS = "labkit_fields"
_SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    return text


def format_fields(fields: dict[str, Any]) -> str:
    return " ".join(f"{key}={_logfmt_value(value)}" for key, value in fields.items())


class LogfmtFormatter(logging.Formatter):
    def __init__(self, *, journald: bool) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, _FIELDS, {})
        text = record.getMessage()
        if fields:
            text = f"{text} {format_fields(fields)}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        if self.journald:
            priority = _SYSLOG_PRIORITY.get(record.levelno, 6)
            # Continuation lines of a traceback get the prefix too, or journald files
            # them at the default priority.
            return "\n".join(f"<{priority}>{line}" for line in f"{record.name}: {text}".split("\n"))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z {record.levelname:<7} {record.name}: {text}"


def running_under_journald(stream: TextIO = sys.stderr) -> bool:
    """True when ``stream`` is the journal stream systemd connected us to."""
    expected = os.environ.get("JOURNAL_STREAM")
    if not expected:
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return expected == f"{stat.st_dev}:{stat.st_ino}"


def configure_logging(level: str | int = "INFO", stream: TextIO | None = None) -> None:
    """Send all logging to ``stream`` (stderr) as logfmt; idempotent."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter(journald=running_under_journald(stream)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # httpx logs every request at INFO: a scrape every few seconds would drown the journal.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # uvicorn's own loggers would print a second, differently formatted line per event.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


class Logger:
    """A stdlib logger that takes fields as keyword arguments:
    ``log.warning("upstream failed", reason="timeout", url=url)``."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def _log(self, level: int, msg: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, msg, extra={_FIELDS: fields}, exc_info=exc_info, stacklevel=3)

    def debug(self, msg: str, **fields: Any) -> None:
        self._log(logging.DEBUG, msg, fields)

    def info(self, msg: str, **fields: Any) -> None:
        self._log(logging.INFO, msg, fields)

    def warning(self, msg: str, **fields: Any) -> None:
        self._log(logging.WARNING, msg, fields)

    def error(self, msg: str, **fields: Any) -> None:
        self._log(logging.ERROR, msg, fields)

    def exception(self, msg: str, **fields: Any) -> None:
        self._log(logging.ERROR, msg, fields, exc_info=True)


def get_logger(name: str) -> Logger:
    return Logger(name)
