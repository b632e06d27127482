"""Benchmarks for the lab-instrument daemon (apps/daq); prints its figures.

1. 1830-C polling rate against the line limit at 9600 baud, the simulator pacing bytes
   on a real pty: achieved / theoretical (target >= 90 %).
2. Acquisition write throughput to CSV and Parquet through the recorders the daemon
   uses, row by row with the once-a-second flush (target >= 100,000 samples/s Parquet).
3. Command round trip: driver-level, and through the HTTP API on the simulated lab.
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
from daq.core.recorders import open_recorder
from daq.hardware.pm1830c import PowerMeter1830C
from daq.hardware.serial_transport import PortSettings, SerialTransport
from daq.sim.lab import SimLab
from daq.sim.pm1830c import PowerMeter1830CSim
from daq.sim.pty_port import PtyPort
from daq.sim.world import World

BAUD = 9600


def polling_rate(root: Path, seconds: float = 3.0) -> None:
    port = PtyPort(
        PowerMeter1830CSim(World(laser_output=lambda now: 1.0)), root / "pm", baudrate=BAUD
    )
    with port:
        transport = SerialTransport(PortSettings(str(port.link), baudrate=BAUD))
        transport.open()
        pm = PowerMeter1830C(transport)
        _ = pm.power  # warm up the path
        sent_before, received_before = len(port.sent), len(port.received)
        count = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            _ = pm.power
            count += 1
        elapsed = time.perf_counter() - start
        transport.close()
    bytes_per_poll = (
        (len(port.sent) - sent_before) + (len(port.received) - received_before)
    ) / count
    theoretical = BAUD / 10 / bytes_per_poll  # 8N1: 10 bits a byte, query and reply in turn
    achieved = count / elapsed
    print(
        f"1830-C polling at {BAUD} baud: {achieved:.1f} readings/s "
        f"of {theoretical:.1f} theoretical ({bytes_per_poll:.1f} bytes a poll) "
        f"= {100 * achieved / theoretical:.1f} % of the line limit"
    )


def write_throughput(root: Path, rows: int = 200_000, readings: int = 4) -> None:
    names = [f"r{i}" for i in range(readings)]
    values: list[float | None] = [1.234e-3, 800.0, 12.5, -0.25][:readings]
    for kind, fmt in (("CSV", "csv"), ("Parquet", "parquet"), ("HDF5", "hdf5"), ("Arrow", "arrow")):
        recorder = open_recorder(root / f"bench-{fmt}", fmt, names, {"bench": True})  # type: ignore[arg-type]
        path = recorder.path
        t0 = time.time()
        start = time.perf_counter()
        last_flush = start
        for i in range(rows):
            recorder.write(t0 + i * 1e-4, values, "ok")
            if i % 1000 == 0 and time.perf_counter() - last_flush >= 1.0:
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
        write_throughput(root)
        round_trips(root)


if __name__ == "__main__":
    main()
