"""Benchmarks for the lab-instrument daemon (apps/daq); prints its figures.

1. 1830-C polling rate against the line limit at 9600 baud, the simulator pacing bytes
   on a real pty, with the input drained before every question: achieved / theoretical
   (target >= 90 %), for a bare ``D?`` and for a full reading (``D?`` then ``Q?``).
2. What one late reply costs: readings polled continuously while one answer comes after
   the timeout; readings lost and readings wrong (target: at most one lost, none wrong).
3. Write throughput through the recorders the daemon uses, row by row with the
   twice-a-second flush, close included (target >= 100,000 samples/s for HDF5 and Parquet).
4. Command round trip through the HTTP API on the simulated lab.
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from daq.api.app import create_app
from daq.assembly import build_lab
from daq.config import DaqSettings
from daq.core.errors import BadReply, ReplyTimeout
from daq.core.recorders import Format, open_recorder
from daq.hardware.pm1830c import PowerMeter1830C
from daq.hardware.serial_transport import PortSettings, SerialTransport
from daq.sim.lab import SimLab
from daq.sim.pm1830c import PowerMeter1830CSim
from daq.sim.pty_port import PtyPort
from daq.sim.world import World

BAUD = 9600


def poll(pm: PowerMeter1830C, full: bool) -> None:
    if full:
        pm.reading()
    else:
        _ = pm.power


def polling_rate(root: Path, seconds: float = 3.0) -> None:
    for label, full in (("D? only", False), ("D? + Q? (a reading)", True)):
        port = PtyPort(
            PowerMeter1830CSim(World(laser_output=lambda now: 1.0)),
            root / f"pm-{full}",
            baudrate=BAUD,
        )
        with port:
            transport = SerialTransport(PortSettings(str(port.link), baudrate=BAUD))
            transport.open()
            pm = PowerMeter1830C(transport)

            poll(pm, full)  # warm up the path
            sent_before, received_before = len(port.sent), len(port.received)
            count = 0
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                poll(pm, full)
                count += 1
            elapsed = time.perf_counter() - start
            transport.close()
        bytes_per_poll = (
            (len(port.sent) - sent_before) + (len(port.received) - received_before)
        ) / count
        theoretical = BAUD / 10 / bytes_per_poll  # 8N1: 10 bits a byte, in turn
        achieved = count / elapsed
        print(
            f"1830-C polling, {label}, drain before each question, {BAUD} baud: "
            f"{achieved:.1f}/s of {theoretical:.1f} theoretical "
            f"({bytes_per_poll:.1f} bytes a poll) = {100 * achieved / theoretical:.1f} % "
            "of the line limit"
        )


def late_reply_cost(root: Path, polls: int = 60) -> None:
    """One W? answered 0.5 s after a 0.3 s timeout, in the middle of continuous polling:
    how many readings are lost, and how many are wrong (a wavelength read as a power)."""
    port = PtyPort(
        PowerMeter1830CSim(World(laser_output=lambda now: 0.0)),
        root / "pm-late",
        baudrate=BAUD,
        late_s=0.5,
    )
    with port:
        transport = SerialTransport(PortSettings(str(port.link), baudrate=BAUD, timeout=0.3))
        transport.open()
        pm = PowerMeter1830C(transport)
        lost = wrong = 0
        recovery = 0.0
        for i in range(polls):
            if i == polls // 2:
                port.inject("late")
                start = time.perf_counter()
                try:
                    _ = pm.wavelength  # the question whose answer comes late
                except ReplyTimeout:
                    lost += 1
                recovery = time.perf_counter() - start
                continue
            try:
                value = pm.power
            except (ReplyTimeout, BadReply):
                lost += 1
                continue
            if value > 1e-6:  # dark: a power is nW; 800 would be a wavelength
                wrong += 1
        transport.close()
    print(
        f"1830-C one late reply in {polls} polls: {lost} reading(s) lost, {wrong} wrong; "
        f"the late question took {recovery:.2f} s (timeout 0.3 s + settling)"
    )


def write_throughput(root: Path, rows: int = 200_000, readings: int = 4) -> None:
    names = [f"r{i}" for i in range(readings)]
    sample: list[float | None] = [1.234e-3, 800.0, 12.5, -0.25]
    values = sample[:readings]
    fmt: Format
    formats: list[tuple[str, Format]] = [
        ("CSV", "csv"),
        ("Parquet", "parquet"),
        ("HDF5", "hdf5"),
        ("Arrow IPC", "arrow"),
    ]
    for kind, fmt in formats:
        recorder = open_recorder(root / f"bench-{fmt}", fmt, names, {"bench": True})
        path = recorder.path
        t0 = time.time()
        start = time.perf_counter()
        last_flush = start
        for i in range(rows):
            recorder.write(t0 + i * 1e-4, values, "ok")
            if i % 1000 == 0 and time.perf_counter() - last_flush >= 0.5:
                recorder.flush()
                last_flush = time.perf_counter()
        recorder.close({"rows": rows})
        elapsed = time.perf_counter() - start
        size = path.stat().st_size / 1e6
        print(
            f"{kind} write: {rows * readings / elapsed:,.0f} samples/s "
            f"({rows / elapsed:,.0f} rows/s of {readings} readings, {size:.1f} MB, close included)"
        )


def round_trips(root: Path, count: int = 100) -> None:
    (root / "dev").mkdir()
    with SimLab(root / "dev", warmup_seconds=0.1) as sims:
        config = sims.config(root / "data")
        config["monitor_interval_s"] = 60  # no polling between the timed commands
        config["instruments"][2]["watchdog_s"] = 0  # type: ignore[index]
        token = "bench-token-0123456789"
        settings = DaqSettings(api_token=token, **config)  # type: ignore[arg-type]
        lab = build_lab(settings)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(lab, token),
                host="127.0.0.1",
                port=port,
                log_config=None,
                log_level="warning",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
        ) as c:
            for label, method, path, body in (
                (
                    "GET reading laser.wavelength (115200 baud)",
                    "GET",
                    "/api/readings/laser.wavelength",
                    None,
                ),
                ("GET reading meter.power (9600 baud)", "GET", "/api/readings/meter.power", None),
                (
                    "PUT meter settings (setter, no reply)",
                    "PUT",
                    "/api/powermeters/meter/settings",
                    {"filter": 3},
                ),
                (
                    "POST stage move + error check (19200)",
                    "POST",
                    "/api/stages/stage/axes/1/move",
                    {"position": 0},
                ),
            ):
                c.request(method, path, json=body).raise_for_status()
                times = []
                for _ in range(count):
                    start = time.perf_counter()
                    c.request(method, path, json=body).raise_for_status()
                    times.append(time.perf_counter() - start)
                times.sort()
                print(
                    f"round trip {label}: median {1000 * statistics.median(times):.1f} ms, "
                    f"p95 {1000 * times[int(0.95 * len(times))]:.1f} ms"
                )
        server.should_exit = True
        thread.join(15)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        polling_rate(root)
        late_reply_cost(root)
        write_throughput(root)
        round_trips(root)


if __name__ == "__main__":
    main()
