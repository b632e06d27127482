"""The test helpers against real sockets, real child processes and a real pytest run."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from labkit.testing import (
    ServerThread,
    ServiceProcess,
    WaitTimeoutError,
    free_port,
    free_ports,
    http_status,
    port_open,
    running_services,
    wait_for_http,
    wait_for_port,
    wait_until,
)

HTTP_SERVER = [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1"]


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    for port in [*ports, free_port()]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
    udp = free_port(kind=socket.SOCK_DGRAM)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", udp))


def test_wait_until_returns_the_first_truthy_value() -> None:
    answers = iter([0, None, "", "ready"])
    assert wait_until(lambda: next(answers), timeout=5, interval=0.001) == "ready"


def test_wait_until_says_what_it_waited_for_what_it_saw_and_the_context() -> None:
    with pytest.raises(WaitTimeoutError) as caught:
        wait_until(list, timeout=0.1, what="the moon", context=lambda: "LOG TAIL")
    message = str(caught.value)
    assert "timed out after 0.1 s waiting for the moon (last: [])" in message
    assert message.endswith("LOG TAIL")
    assert isinstance(caught.value, AssertionError)


def test_wait_until_lets_a_broken_check_fail() -> None:
    def broken() -> bool:
        raise ValueError("bug in the check")

    with pytest.raises(ValueError, match="bug in the check"):
        wait_until(broken, timeout=5)


def test_service_process_waits_for_http_shows_its_log_and_stops(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    (tmp_path / "www").mkdir()
    with ServiceProcess(
        [*HTTP_SERVER, "--directory", str(tmp_path / "www"), str(port)],
        log=tmp_path / "http.log",
        name="http.server",
        ready_url=url,
    ) as service:
        assert service in running_services()
        assert port_open("127.0.0.1", port)
        wait_for_port("127.0.0.1", port, timeout=1)
        assert wait_for_http(url + "missing", status=404, timeout=1) == 404
        assert "GET /missing" in service.log_tail()
    assert service not in running_services()
    assert service.returncode is not None
    assert http_status(url) is None


def test_a_service_that_exits_fails_at_once_with_its_log(tmp_path: Path) -> None:
    code = "import sys; print('cannot open the config: /etc/nowhere'); sys.exit(2)"
    service = ServiceProcess(
        [sys.executable, "-c", code],
        log=tmp_path / "bad.log",
        name="bad",
        ready_url="http://127.0.0.1:9/",
    )
    with pytest.raises(AssertionError) as caught:
        service.start()
    assert "bad exited with status 2 before it was ready" in str(caught.value)
    assert "cannot open the config: /etc/nowhere" in str(caught.value)
    assert service not in running_services()


def test_a_service_that_never_gets_ready_times_out_with_its_log(tmp_path: Path) -> None:
    code = "import time; print('still loading', flush=True); time.sleep(60)"
    service = ServiceProcess(
        [sys.executable, "-c", code],
        log=tmp_path / "slow.log",
        name="slow",
        ready=lambda: False,
        ready_timeout=1,
    )
    with pytest.raises(WaitTimeoutError, match=r"(?s)waiting for slow to be ready.*still loading"):
        service.start()
    assert service.returncode is not None  # stopped, not left behind


def test_a_failing_test_reports_the_log_of_its_services(tmp_path: Path) -> None:
    """A real pytest run: a test fails while a fixture's service runs (the labkit plugin,
    loaded by its entry point, adds the log to the report) and another fails inside
    ``with ServiceProcess`` (the log is a note of the exception)."""
    (tmp_path / "test_fails.py").write_text(
        textwrap.dedent(
            """
            import sys
            import time

            import pytest

            from labkit.testing import ServiceProcess

            CODE = "print('{}', flush=True); import time; time.sleep(30)"

            @pytest.fixture
            def chatty(tmp_path):
                with ServiceProcess([sys.executable, "-c", CODE.format("fixture-service-said")],
                                    log=tmp_path / "s.log", name="chatty", ready=lambda: True) as s:
                    time.sleep(0.5)
                    yield s

            def test_fails_with_a_fixture_service(chatty):
                assert False, "the test failed"

            def test_fails_inside_with(tmp_path):
                with ServiceProcess([sys.executable, "-c", CODE.format("inline-service-said")],
                                    log=tmp_path / "i.log", name="inline", ready=lambda: True):
                    time.sleep(0.5)
                    assert False, "the test failed"

            def test_passes(chatty):
                pass
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path / "test_fails.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "2 failed, 1 passed" in out
    assert "service log: chatty" in out
    assert out.count("fixture-service-said") == 1  # in the failing test's report only
    assert "--- inline log" in out
    assert "inline-service-said" in out


def test_server_thread_serves_an_app_on_a_free_port() -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("hi"))])
    with ServerThread(app) as server:
        assert httpx.get(server.url + "/").text == "hi"
        url = server.url
    assert http_status(url + "/") is None
