"""Starting and stopping the real servers the integration tests run, on loopback.

Every server listens on 127.0.0.1 with a port the kernel picked, writes its log to a file
the test's failure message quotes, and is stopped (SIGTERM, then SIGKILL) by its fixture.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from labkit.testing import ServiceProcess
from labkit.testing import free_port as free_port_of_kind


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, chars: int = 3000) -> str:
        try:
            return f"--- {self.name} log ---\n" + self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return f"--- {self.name}: no log ---"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@contextlib.contextmanager
def running(
    name: str,
    argv: Sequence[str],
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    ready: Callable[[], bool] | None = None,
    timeout: float = 60,
) -> Iterator[Server]:
    """Run `argv` until the block ends; wait until `ready()` holds (or fail with its log)."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    server = Server(name, process, log)
    try:
        if ready is not None:
            wait_for(ready, timeout, f"{name} did not become ready", server)
        yield server
    finally:
        server.stop()


def wait_for(
    check: Callable[[], bool], timeout: float, message: str, server: Server | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.process.poll() is not None:
            raise AssertionError(f"{message}: exited {server.process.returncode}\n{server.tail()}")
        try:
            if check():
                return
        except (httpx.HTTPError, OSError, ssl.SSLError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"{message} within {timeout:.0f} s\n{server.tail() if server else ''}")


def http_ok(url: str, *, verify: bool | str = False, headers: dict[str, str] | None = None) -> bool:
    return (
        httpx.get(
            url,
            timeout=5,
            verify=tls(Path(verify)) if isinstance(verify, str) else verify,
            headers=headers,
        ).status_code
        == 200
    )


@dataclass(frozen=True)
class Pki:
    """A throw-away lab CA and one server certificate for 127.0.0.1 / localhost."""

    ca: Path
    cert: Path
    key: Path


def make_pki(folder: Path) -> Pki:
    """A CA and a server certificate signed by it, made with the openssl CLI."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")
    )
    ext = folder / "server.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=lab test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost",
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext),
    )  # fmt: skip
    return Pki(ca=ca, cert=cert, key=key)


def prometheus_query(base: str, query: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=10).json()
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    assert isinstance(result, list)
    return result


def tls(ca: Path) -> ssl.SSLContext:
    """A client context that trusts only the lab CA (what the platform's clients do)."""
    return ssl.create_default_context(cafile=str(ca))


def write_yaml(path: Path, data: object) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@contextlib.contextmanager
def prometheus(
    folder: Path, logs: Path, config: dict[str, object], name: str = "prometheus"
) -> Iterator[str]:
    """A real Prometheus (Debian's) with `config`; yields its base URL."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    path = write_yaml(folder / "prometheus.yml", config)
    check = subprocess.run(
        ["promtool", "check", "config", str(path)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    base = f"http://127.0.0.1:{port}"
    argv = [
        "prometheus",
        f"--config.file={path}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
    ]
    with running(name, argv, logs, ready=lambda: http_ok(f"{base}/-/ready")):
        yield base


@contextlib.contextmanager
def blackbox(folder: Path, logs: Path, config: dict[str, object]) -> Iterator[str]:
    """Debian's prometheus-blackbox-exporter with `config`; yields host:port."""
    folder.mkdir(parents=True, exist_ok=True)
    path = write_yaml(folder / "blackbox.yml", config)
    port = free_port()
    argv = [
        "prometheus-blackbox-exporter",
        f"--config.file={path}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running("blackbox", argv, logs, ready=lambda: http_ok(f"http://127.0.0.1:{port}/metrics")):
        yield f"127.0.0.1:{port}"


@dataclass(frozen=True)
class DomeSim:
    url: str
    token: str
    read_token: str
    service: ServiceProcess


@contextlib.contextmanager
def dome_sim(logs: Path) -> Iterator[DomeSim]:
    """The real dome controller in simulation (`dome serve --sim`: control and API
    processes, simulated stepper, encoder and GPIO shutter), started as apps/dome's own
    tests start it, with reads closed: only a client with DOME_API_TOKEN or the read-only
    DOME_API_READ_TOKEN (Home Assistant's) reads its status."""
    state_dir = Path(tempfile.mkdtemp(prefix="dome-", dir="/tmp"))  # AF_UNIX path limit
    port = free_port()
    token, read_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    env = {
        "DOME_API_TOKEN": token,
        "DOME_API_READ_TOKEN": read_token,
        "DOME_OPEN_READS": "false",
        "DOME_STATE_DIR": str(state_dir),
        "DOME_SOCKET_PATH": str(state_dir / "control.sock"),
        "DOME_ALPACA_DISCOVERY_HOST": "127.0.0.1",
        "DOME_ALPACA_DISCOVERY_PORT": str(free_port_of_kind(kind=socket.SOCK_DGRAM)),
        "DOME_SHUTTER": "gpio",
        # a quicker dome than the observatory's, so a goto takes seconds
        "DOME_MAX_SPEED_DEG_S": "15",
        "DOME_ACCELERATION_DEG_S2": "30",
    }
    url = f"http://127.0.0.1:{port}"
    service = ServiceProcess(
        [sys.executable, "-m", "dome", "serve", "--sim", "--listen", f"127.0.0.1:{port}"],
        env=env,
        log=logs / "dome.log",
        name="dome serve --sim",
        ready_url=f"{url}/healthz",
    )
    try:
        with service:
            yield DomeSim(url, token, read_token, service)
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


@dataclass(frozen=True)
class IngressStandIn:
    """What Home Assistant reads the devices through: one HTTPS origin per device host."""

    dome: str
    picotemp: str


class _ReadProxy(ThreadingHTTPServer):
    routes: Mapping[str, str]


class _ReadProxyHandler(BaseHTTPRequestHandler):
    """Forwards a request whose path is exactly one of the routes, whatever its method (an
    Ingress path rule matches paths, not methods); anything else is 404, as Traefik answers
    a request no router matches."""

    server: _ReadProxy

    def _forward(self) -> None:
        parts = urlsplit(self.path)
        target = self.server.routes.get(parts.path)
        if target is None:
            self.send_error(404)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {
            k: v for k in ("Authorization", "Accept", "Content-Type") if (v := self.headers.get(k))
        }
        url = target + (f"?{parts.query}" if parts.query else "")
        answer = httpx.request(self.command, url, headers=headers, content=body, timeout=10)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("content-type", "text/plain"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = do_DELETE = _forward  # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextlib.contextmanager
def tls_read_proxy(routes: Mapping[str, str], pki: Pki) -> Iterator[str]:
    """An HTTPS origin (certificate from the test CA) forwarding only `routes`, exact path ->
    plain-HTTP URL: the stand-in for one host of the apps stack's device Ingress."""
    server = _ReadProxy(("127.0.0.1", 0), _ReadProxyHandler)
    server.routes = dict(routes)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki.cert), str(pki.key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="tls-read-proxy", daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
