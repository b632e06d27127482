"""Helpers for the tests of every app: free ports, waiting with a deadline, services as child
processes (their log shown when a test fails) or as an in-process server on a thread.

Importing this module does not import pytest. A service's log reaches a failing test's
report two ways: an exception leaving ``with ServiceProcess(...)`` carries the log's tail as
a note, and for services a fixture keeps running, the pytest plugin
:mod:`labkit.pytest_plugin` (loaded by labkit's ``pytest11`` entry point) adds the tail of
the log of every :class:`ServiceProcess` still running to the report of a failed test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import uvicorn
from starlette.types import ASGIApp

if TYPE_CHECKING:
    from playwright.sync_api import Browser

T = TypeVar("T")

LOCALHOST = "127.0.0.1"

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium (deps/apt), for Playwright's ``chromium.launch(executable_path=...)``:
Playwright's own browser download needs the internet."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in a container, where the sandbox cannot start
    "--disable-gpu",
    # none of Chromium's own traffic (updates, sync, field trials) towards the internet
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium driven by Playwright (imported here, so only the tests
    that use a browser need it): ``with chromium() as browser: page = browser.new_page()``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def free_port(host: str = LOCALHOST, kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port nothing listens on right now (the kernel's choice, so parallel test runs of
    several engineers do not collide)."""
    return free_ports(1, host, kind)[0]


def free_ports(
    count: int, host: str = LOCALHOST, kind: socket.SocketKind = socket.SOCK_STREAM
) -> list[int]:
    """``count`` distinct free ports: all are held open together while chosen, so the
    kernel cannot hand out one twice."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    held = [socket.socket(family, kind) for _ in range(count)]
    try:
        for sock in held:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in held]
    finally:
        for sock in held:
            sock.close()


class WaitTimeoutError(AssertionError):
    """A wait that ran out of time. An ``AssertionError``, so pytest reports it as the
    failure it is, with the message that says what was awaited and what was seen."""


def wait_until(
    check: Callable[[], T],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str | None = None,
    context: Callable[[], str] | None = None,
) -> T:
    """Call ``check`` until it returns something truthy, and return that.

    Past ``timeout`` seconds raise :class:`WaitTimeoutError` naming ``what`` (default: the
    check's name), the last value seen and, if given, ``context()`` (a service's log).
    Exceptions from ``check`` propagate: a check that fails is not a check that waits.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            name = what or getattr(check, "__name__", "the condition")
            message = f"timed out after {timeout:g} s waiting for {name} (last: {result!r})"
            if context is not None:
                message += f"\n{context()}"
            raise WaitTimeoutError(message)
        time.sleep(interval)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# Proxies from the environment must not see requests to our own test servers.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """The status a GET of ``url`` answers, or ``None`` when nothing answers."""
    try:
        with _opener.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def http_ok(url: str, timeout: float = 1.0) -> bool:
    return http_status(url, timeout) == 200


def wait_for_port(
    host: str, port: int, *, timeout: float = 10.0, context: Callable[[], str] | None = None
) -> None:
    wait_until(
        lambda: port_open(host, port),
        timeout=timeout,
        what=f"a listener on {host}:{port}",
        context=context,
    )


def wait_for_http(
    url: str,
    *,
    status: int | Container[int] = 200,
    timeout: float = 10.0,
    context: Callable[[], str] | None = None,
) -> int:
    """Wait until a GET of ``url`` answers ``status`` (or one of them); return it."""
    wanted = (status,) if isinstance(status, int) else status

    def answered() -> int | None:
        got = http_status(url)
        return got if got in wanted else None

    result = wait_until(
        answered, timeout=timeout, what=f"GET {url} to answer {status}", context=context
    )
    assert result is not None
    return result


_running: list[ServiceProcess] = []
_running_lock = threading.Lock()


def running_services() -> list[ServiceProcess]:
    """The :class:`ServiceProcess` es started and still running (for failure reports); a
    test may also have killed one itself."""
    with _running_lock:
        _running[:] = [service for service in _running if service.running]
        return list(_running)


class ServiceProcess:
    """A service run as a child process for a test, its stdout and stderr in ``log``.

    ``with ServiceProcess([...], log=tmp_path / "svc.log", ready_url=url) as svc:`` starts it,
    waits until ``ready_url`` answers 200 (or ``ready`` returns true) and stops it (SIGTERM,
    then SIGKILL) at the end. If it exits or is not ready in time, the error carries the
    tail of its log; while it runs, a failing test's report shows the log too.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        ready_url: str | None = None,
        ready: Callable[[], bool] | None = None,
        ready_timeout: float = 30.0,
        cwd: Path | None = None,
        inherit_env: bool = True,
    ) -> None:
        self.argv = list(argv)
        self.log = log
        self.name = name or Path(self.argv[0]).name
        self.env = {**(os.environ if inherit_env else {}), **(env or {})}
        self.ready_url = ready_url
        self.ready = ready
        self.ready_timeout = ready_timeout
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        # the child keeps its own descriptor of the log; ours closes at once
        with self.log.open("wb") as log_file:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        with _running_lock:
            _running.append(self)
        try:
            if self.ready_url is not None or self.ready is not None:
                self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait for the readiness check; fail at once, with the log, if the process exits."""

        def up() -> bool:
            if self.returncode is not None:
                raise AssertionError(
                    f"{self.name} exited with status {self.returncode} before it was ready\n"
                    f"{self.describe()}"
                )
            if self.ready is not None:
                return self.ready()
            return self.ready_url is not None and http_ok(self.ready_url)

        wait_until(
            up,
            timeout=self.ready_timeout if timeout is None else timeout,
            what=f"{self.name} to be ready",
            context=self.describe,
        )

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            text = self.log.read_bytes()[-chars:].decode(errors="replace")
        except FileNotFoundError:
            return ""
        return text

    def describe(self, chars: int = 4000) -> str:
        """A header naming the process and its log file, then the tail of the log."""
        return f"--- {self.name} log ({self.log}), last {chars} characters ---\n" + (
            self.log_tail(chars) or "(empty)"
        )

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, up to ``timeout`` s to exit, then SIGKILL. Returns the exit status."""
        with _running_lock:
            if self in _running:
                _running.remove(self)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.returncode

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if isinstance(exc, Exception):
            # a test failing inside the `with` shows the log under its traceback
            exc.add_note(self.describe())


class ServerThread:
    """An ASGI app served by a real uvicorn on a loopback port, on a thread of the test
    process: real HTTP (and WebSocket) without a child process.

    ``with ServerThread(app) as server: httpx.get(server.url + "/healthz")``
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = LOCALHOST,
        port: int | None = None,
        start_timeout: float = 15.0,
        stop_timeout: float = 30.0,
        **uvicorn_options: object,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        options: dict[str, object] = {"log_config": None, "lifespan": "on", **uvicorn_options}
        config = uvicorn.Config(app, host=host, port=self.port, **options)  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # reported by start()
            self._error = exc

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()

        def started() -> bool:
            if not self._thread.is_alive() and not self.server.started:
                raise AssertionError(
                    f"the server on {self.url} stopped before it started: {self._error!r}"
                )
            return self.server.started

        wait_until(started, timeout=self.start_timeout, what=f"the server on {self.url}")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(RuntimeError):
            self._thread.join(self.stop_timeout)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
