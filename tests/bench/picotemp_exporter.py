"""Benchmark of picotemp-exporter with a warm cache (issue 3). Prints its figures.

1. Open loop: 200 scrapes/s spread over 64 keep-alive connections for 10 s; latency is
   measured from each request's *scheduled* send time (no coordinated omission): p50, p99.
2. Closed loop: maximum scrapes/s, and the same against a bare static response of the
   same size on the same HTTP stack (labkit.serve's uvicorn config + Starlette); ratio.
   Rounds alternate between the two servers. Both wall-clock rates and rates per
   CPU-second of the server are printed; the target is checked on the latter, because
   on this shared machine the other tenants move wall-clock rates by a factor of 3.
3. The exporter's peak RSS (VmHWM).
4. Requests that reached the simulated Pico during each run, against the bound
   duration / cache window + 1.

The machine has 2 cores: the server under test is pinned to CPU 0 and this load generator
(plus the simulator, which sees one request per cache window) to CPU 1, so the two never
compete for a core; the load generator is a lean raw-socket HTTP/1.1 client on uvloop,
and its own CPU use is printed so a saturated generator would show.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvloop

T = TypeVar("T")
BIN = Path(sys.executable).parent
SERVER_CPU, LOADGEN_CPU = 0, 1
CACHE_SECONDS = 2.0
ROUNDS, ROUND_SECONDS = 4, 2.0
TARGETS = {"p99_ms": 10.0, "ratio": 0.80, "rss_mb": 60.0}

BARE_SERVER = textwrap.dedent(
    """
    import sys
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from labkit.listen import ListenAddress
    from labkit.serve import serve

    BODY = b"x" * int(sys.argv[2])

    async def metrics(request: Request) -> Response:
        return Response(BODY, headers={"Content-Type": "text/plain; version=0.0.4"})

    serve(Starlette(routes=[Route("/metrics", metrics)]), ListenAddress.parse(sys.argv[1]),
          name="bare")
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cpu: int) -> Callable[[], None]:
    return lambda: os.sched_setaffinity(0, {cpu})


def start(args: list[str], cpu: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        preexec_fn=pinned(cpu),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} never answered")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


class Connection:
    """One keep-alive HTTP/1.1 connection sending GET /metrics, one request at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.request = f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def get(self) -> None:
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected answer: {head[:40]!r}")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def open_loop(port: int, rate: float, connections: int, seconds: float) -> list[float]:
    conns = [Connection(port) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in conns))
    total = int(rate * seconds)
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    start_at = loop.time() + 0.1

    async def drive(index: int) -> None:
        conn = conns[index]
        # uvloop's clock has millisecond resolution: latency uses perf_counter.
        offset = time.perf_counter() - loop.time()
        for n in range(index, total, connections):
            scheduled = start_at + n / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await conn.get()
            latencies.append(time.perf_counter() - offset - scheduled)

    await asyncio.gather(*(drive(i) for i in range(connections)))
    for conn in conns:
        conn.close()
    return latencies


async def closed_loop(port: int, connections: int, seconds: float) -> tuple[int, float]:
    conns = [Connection(port) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in conns))
    for conn in conns:  # warm up
        await conn.get()
    done = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def drive(conn: Connection) -> None:
        nonlocal done
        while loop.time() < deadline:
            await conn.get()
            done += 1

    started = loop.time()
    await asyncio.gather(*(drive(c) for c in conns))
    elapsed = loop.time() - started
    for conn in conns:
        conn.close()
    return done, elapsed


def sim_requests(control_url: str) -> int:
    return int(httpx.get(control_url + "/state", timeout=5).json()["requests_total"])


def server_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


UPSTREAM: list[tuple[str, int, float]] = []


def run_measured(label: str, control_url: str, window: float, coro: Coroutine[Any, Any, T]) -> T:
    before_req, before_cpu, started = sim_requests(control_url), cpu_seconds(), time.monotonic()
    result = uvloop.run(coro)
    elapsed = time.monotonic() - started
    upstream = sim_requests(control_url) - before_req
    bound = elapsed / window + 1
    UPSTREAM.append((label, upstream, bound))
    print(
        f"  {label}: upstream requests {upstream} (bound {bound:.1f}: "
        f"{'ok' if upstream <= bound else 'EXCEEDED'}); load generator CPU "
        f"{100 * (cpu_seconds() - before_cpu) / elapsed:.0f}% of its core"
    )
    return result


def main() -> int:
    if len(os.sched_getaffinity(0)) < 2:
        print("needs 2 CPUs to keep the load generator off the server's core")
        return 1
    os.sched_setaffinity(0, {LOADGEN_CPU})
    sim_port, control_port, exporter_port, bare_port = (free_port() for _ in range(4))
    control_url = f"http://127.0.0.1:{control_port}"
    sim = start(
        [
            str(BIN / "picotemp-sim"),
            "--listen",
            f"127.0.0.1:{sim_port}",
            "--control",
            f"127.0.0.1:{control_port}",
        ],
        LOADGEN_CPU,
    )
    exporter = start(
        [str(BIN / "picotemp-exporter")],
        SERVER_CPU,
        {
            "PICO_SERVER_URL": f"http://127.0.0.1:{sim_port}/",
            "PICOTEMP_LISTEN": f"127.0.0.1:{exporter_port}",
            "PICOTEMP_CACHE_SECONDS": str(CACHE_SECONDS),
            "PICOTEMP_LOG_LEVEL": "WARNING",
        },
    )
    bare = None
    failures: list[str] = []
    try:
        wait_ready(control_url + "/state")
        wait_ready(f"http://127.0.0.1:{exporter_port}/metrics")  # warms the cache
        body = httpx.get(f"http://127.0.0.1:{exporter_port}/metrics", timeout=5).content
        assert b"pico_up 1.0" in body, "the exporter is not reading the simulator"
        bare = start(
            [sys.executable, "-c", BARE_SERVER, f"127.0.0.1:{bare_port}", str(len(body))],
            SERVER_CPU,
        )
        wait_ready(f"http://127.0.0.1:{bare_port}/metrics")
        print(
            f"picotemp-exporter benchmark (cache window {CACHE_SECONDS} s, body {len(body)} B;"
            f" server on CPU {SERVER_CPU}, load generator on CPU {LOADGEN_CPU})"
        )

        latencies = run_measured(
            "open loop", control_url, CACHE_SECONDS, open_loop(exporter_port, 200, 64, 10)
        )
        ms = sorted(x * 1000 for x in latencies)
        p50, p99 = statistics.median(ms), ms[int(0.99 * (len(ms) - 1))]
        print(
            f"1. open loop 200/s over 64 connections, 10 s: {len(ms)} scrapes, "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {ms[-1]:.2f} ms "
            f"(target p99 <= {TARGETS['p99_ms']} ms)"
        )
        if p99 > TARGETS["p99_ms"]:
            failures.append("p99")

        # Interleaved rounds, so a neighbour's burst on the shared machine hits both sides.
        # Wall-clock rates swing 3x here with the other tenants' load, so each round also
        # counts scrapes per CPU-second the server used: that is the one-core maximum,
        # and what the ratio target is checked on.
        pids = {"exporter": exporter.pid, "bare": bare.pid}  # bare is started above
        ports = {"exporter": exporter_port, "bare": bare_port}
        done: dict[str, int] = {"exporter": 0, "bare": 0}
        wall: dict[str, float] = {"exporter": 0.0, "bare": 0.0}
        cpu: dict[str, float] = {"exporter": 0.0, "bare": 0.0}
        for round_ in range(ROUNDS):
            for name in ("exporter", "bare"):
                cpu_before = server_cpu_seconds(pids[name])
                count, elapsed = run_measured(
                    f"closed loop {round_ + 1}/{ROUNDS}, {name}",
                    control_url,
                    CACHE_SECONDS,
                    closed_loop(ports[name], 16, ROUND_SECONDS),
                )
                used = server_cpu_seconds(pids[name]) - cpu_before
                done[name] += count
                wall[name] += elapsed
                cpu[name] += used
                print(
                    f"    {count / elapsed:.0f}/s wall, {count / used:.0f}/s per server "
                    f"CPU-second, server busy {100 * used / elapsed:.0f}% of its core"
                )
        wall_rate = {name: done[name] / wall[name] for name in done}
        cpu_rate = {name: done[name] / cpu[name] for name in done}
        wall_ratio = wall_rate["exporter"] / wall_rate["bare"]
        ratio = cpu_rate["exporter"] / cpu_rate["bare"]
        print(
            f"2. closed loop, 16 connections, {ROUNDS} interleaved rounds of "
            f"{ROUND_SECONDS:.0f} s each:\n"
            f"   wall clock: exporter {wall_rate['exporter']:.0f}/s, bare static "
            f"{wall_rate['bare']:.0f}/s, ratio {wall_ratio:.2f}\n"
            f"   per server CPU-second: exporter {cpu_rate['exporter']:.0f}/s, bare static "
            f"{cpu_rate['bare']:.0f}/s, ratio {ratio:.2f} (target >= {TARGETS['ratio']})"
        )
        if ratio < TARGETS["ratio"]:
            failures.append("ratio")

        rss = peak_rss_mb(exporter.pid)
        print(f"3. exporter peak RSS {rss:.1f} MB (target <= {TARGETS['rss_mb']} MB)")
        if rss > TARGETS["rss_mb"]:
            failures.append("rss")
        over = [(label, n, bound) for label, n, bound in UPSTREAM if n > bound]
        print(
            f"4. upstream requests: {sum(n for _, n, _ in UPSTREAM)} in {len(UPSTREAM)} runs, "
            f"each within duration / cache window + 1: {over or 'yes'}"
        )
        if over:
            failures.append("upstream")
    finally:
        for proc in (bare, exporter, sim):
            if proc is not None:
                stop(proc)
    print("targets: " + ("all met" if not failures else "MISSED " + ", ".join(failures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
