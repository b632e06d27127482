import io
import logging
import os
import tempfile
from collections.abc import Iterator

import pytest

from labkit.logs import configure_logging, get_logger, running_under_journald


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_terminal_lines_carry_time_level_and_logfmt_fields(
    restore_root_logger: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    stream = io.StringIO()
    configure_logging("DEBUG", stream)
    get_logger("picotemp").warning(
        "upstream failed", reason="timeout", url="http://pico/", note='say "hi"'
    )
    line = stream.getvalue().strip()
    assert line.endswith(
        'WARNING picotemp: upstream failed reason=timeout url=http://pico/ note="say \\"hi\\""'
    )
    assert line[:4].isdigit()
    assert "T" in line.split()[0]


def test_journald_lines_carry_priority_and_no_timestamp(
    restore_root_logger: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tempfile.TemporaryFile("w+") as stream:
        stat = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino}")
        assert running_under_journald(stream)
        configure_logging("INFO", stream)
        log = get_logger("dome")
        log.debug("hidden")
        log.error("stalled", steps=120)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("control loop died")
        stream.seek(0)
        lines = stream.read().splitlines()
    assert lines[0] == "<3>dome: stalled steps=120"
    assert lines[1] == "<3>dome: control loop died"
    assert all(line.startswith("<3>") for line in lines[2:])
    assert any("RuntimeError: boom" in line for line in lines)


def test_other_stream_is_not_journald(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "1:1")
    assert not running_under_journald(io.StringIO())
