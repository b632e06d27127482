"""Starts the lab's services in order, waits for each to be ready, and stops them all.

One foreground process owns the children: Ctrl-C, SIGTERM (from `make lab-down`) or a
child that dies stops the rest in reverse order, so nothing is left running behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from labctl.plan import Service
from labkit.logs import get_logger

log = get_logger("labctl")


class LabError(Exception):
    """The lab cannot start; the message says what is in the way."""


@dataclass
class Running:
    service: Service
    process: subprocess.Popen[bytes]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_ready(running: Running, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise LabError(
                f"{running.service.name} exited with status {running.process.returncode} "
                f"before it was ready; its log is in .lab/{running.service.name}.log"
            )
        try:
            if httpx.get(running.service.ready_url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise LabError(f"{running.service.name} was not ready at {running.service.ready_url}")


class Supervisor:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.running: list[Running] = []
        self._stop_requested = False

    def start(self, service: Service, ready_timeout: float = 30) -> None:
        log_file = (self.state / f"{service.name}.log").open("ab")
        process = subprocess.Popen(
            service.argv,
            env={**os.environ, **service.env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own process group: Ctrl-C in the terminal reaches the supervisor only, which
            # then stops the children in order instead of all at once.
            start_new_session=True,
        )
        log_file.close()
        running = Running(service, process)
        self.running.append(running)
        wait_ready(running, ready_timeout)
        log.info("ready", service=service.name, pid=process.pid)

    def _request_stop(self, sig: int, frame: FrameType | None) -> None:
        self._stop_requested = True

    def wait(self) -> str:
        """Block until a stop signal or a child exits; return why."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._request_stop)
        while not self._stop_requested:
            for running in self.running:
                if running.process.poll() is not None:
                    return f"{running.service.name} exited with status {running.process.returncode}"
            time.sleep(0.2)
        return "stop requested"

    def stop_all(self, grace: float = 10) -> None:
        for running in reversed(self.running):
            if running.process.poll() is None:
                running.process.terminate()
                try:
                    running.process.wait(grace)
                except subprocess.TimeoutExpired:
                    log.warning("did not stop in time, killing", service=running.service.name)
                    running.process.kill()
                    running.process.wait()
            log.info("stopped", service=running.service.name, status=running.process.returncode)
        self.running.clear()
