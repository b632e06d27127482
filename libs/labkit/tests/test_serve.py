"""labkit.serve in a real child process: real socket, real signals, real notify socket."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

APP = """
import sys
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from labkit.listen import ListenAddress
from labkit.logs import configure_logging
from labkit.serve import serve

async def hello(request):
    return PlainTextResponse("hello")

configure_logging("INFO")
serve(Starlette(routes=[Route("/", hello)]), ListenAddress.parse(sys.argv[1]), name="example")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ready_after_bind_watchdog_and_graceful_stop(tmp_path: Path) -> None:
    notify_path = str(tmp_path / "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(10)
    port = free_port()
    env = {**os.environ, "NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "200000"}
    child = subprocess.Popen(
        [sys.executable, "-c", APP, f"127.0.0.1:{port}"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = notify.recv(256).decode()
        assert ready.startswith("READY=1")
        # READY=1 promises a listening socket: the very next request must succeed.
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "hello"
        assert notify.recv(64) == b"WATCHDOG=1"
        child.send_signal(signal.SIGTERM)
        messages = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = notify.recv(64)
            messages.append(message)
            if message == b"STOPPING=1":
                break
        assert messages[-1] == b"STOPPING=1"
        _, stderr = child.communicate(timeout=10)
        assert child.returncode == 0
        assert "listening service=example" in stderr
        assert "stopped service=example" in stderr
    finally:
        child.kill()
        notify.close()


def test_port_in_use_is_a_failure() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        child = subprocess.run(
            [sys.executable, "-c", APP, f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert child.returncode == 3  # uvicorn's STARTUP_FAILURE
    assert "address already in use" in child.stderr.lower()
