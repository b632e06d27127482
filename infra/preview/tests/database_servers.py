"""Real PostgreSQL, MariaDB and Redis servers (the Debian packages), started by a test.

Each server is this test's own process: a fresh data directory in a unique temporary
folder, listening on 127.0.0.1 on a free port, stopped and removed when the test is done.
The machine's packaged services are never touched. Servers that refuse to run as root
(PostgreSQL, MariaDB) run as their packages' system users when the tests run as root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

STARTUP_SECONDS = 60.0


class ServerError(RuntimeError):
    """A server did not start; the message carries its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_user(user: str) -> list[str]:
    """A command prefix that runs as `user` when we are root (nothing otherwise)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"]


@contextlib.contextmanager
def _workdir(prefix: str, owner: str) -> Iterator[Path]:
    """A unique folder the server's user can write (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix=f"issue-14-{prefix}-"))
    try:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(owner)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: Sequence[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise ServerError(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _wait(process: subprocess.Popen[bytes], ready: Callable[[], bool], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"exited with {process.returncode}:\n{_tail(log)}")
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.1)
    raise ServerError(f"not ready after {STARTUP_SECONDS:.0f} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-4000:]
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


@dataclass(frozen=True)
class Running:
    port: int
    socket_dir: Path
    """Where the server's Unix socket is (administration only; the URLs use TCP)."""


# --- PostgreSQL ------------------------------------------------------------------------


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        raise ServerError("PostgreSQL is not installed (deps/apt/preview.txt: postgresql)")
    return found[-1].parent


@contextlib.contextmanager
def postgresql() -> Iterator[Running]:
    """A PostgreSQL cluster whose TCP connections authenticate with scram-sha-256, as a
    CloudNativePG instance's pg_hba.conf does (cloudnative-pg v1.30.0,
    pkg/postgres/configuration.go: `host all all all {{.DefaultAuthenticationMethod}}`,
    scram-sha-256); the Unix socket trusts the superuser, for setting up only."""
    binaries = _postgres_bin()
    with _workdir("postgresql", "postgres") as folder:
        data, log = folder / "data", folder / "postgres.log"
        prefix = _as_user("postgres")
        _run(
            [
                *prefix,
                str(binaries / "initdb"),
                "-D",
                str(data),
                "--username=postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            ],
            "initdb",
        )
        port = free_port()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    *prefix,
                    str(binaries / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-k",
                    str(folder),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait(
                process,
                lambda: (
                    subprocess.run(
                        [str(binaries / "pg_isready"), "-h", str(folder), "-p", str(port)],
                        capture_output=True,
                        check=False,
                    ).returncode
                    == 0
                ),
                log,
            )
            yield Running(port, folder)
        finally:
            _stop(process, signal.SIGINT)  # fast shutdown


# --- MariaDB ---------------------------------------------------------------------------


@contextlib.contextmanager
def mariadb() -> Iterator[Running]:
    """A MariaDB server with a root account reachable on its Unix socket only."""
    with _workdir("mariadb", "mysql") as folder:
        data, log, sock = folder / "data", folder / "mariadb.log", folder / "mysqld.sock"
        prefix = _as_user("mysql")
        _run(
            [
                *prefix,
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
            "mariadb-install-db",
        )
        port = free_port()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    *prefix,
                    "mariadbd",
                    "--no-defaults",
                    f"--datadir={data}",
                    f"--socket={sock}",
                    f"--pid-file={folder / 'mysqld.pid'}",
                    f"--port={port}",
                    "--bind-address=127.0.0.1",
                    "--skip-name-resolve",
                    "--skip-log-bin",
                    "--innodb-buffer-pool-size=16M",
                    f"--log-error={log}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait(process, lambda: sock.exists() and _port_open(port), log)
            yield Running(port, folder)
        finally:
            _stop(process)


# --- Redis -----------------------------------------------------------------------------


@contextlib.contextmanager
def redis(command: str, env: dict[str, str]) -> Iterator[Running]:
    """redis-server started by `command` (the shell command line of the preview's Redis
    container, run by `sh -c` as its image would), with its data folder `/data` (the
    volume's mount) moved to a temporary folder and options appended that put it on a free
    loopback port (later options override earlier ones)."""
    if shutil.which("redis-server") is None:
        raise ServerError("redis-server is not installed (deps/apt/preview.txt: redis-server)")
    with _workdir("redis", "redis") as folder:
        log = folder / "redis.log"
        port = free_port()
        if " --dir /data " not in command:
            raise ServerError(f"expected `--dir /data` in the Redis command: {command}")
        command = command.replace(" --dir /data ", f" --dir {folder} ")
        local = f" --port {port} --bind 127.0.0.1 --save ''"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*_as_user("redis"), "sh", "-c", command + local],
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait(process, lambda: _port_open(port), log)
            yield Running(port, folder)
        finally:
            _stop(process)
