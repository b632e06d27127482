"""The daemon as a process (``python -m daq serve``) on simulators owned by the test:
killed with SIGKILL mid-acquisition, and with an adapter unplugged and replugged."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
import yaml

from daq.core.recorders import parquet_metadata, read_csv
from daq.sim.lab import SimLab
from labkit.testing import ServiceProcess, free_port, wait_until

pytestmark = pytest.mark.integration
TOKEN = "process-token-0123456789"


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    def attempt() -> Any:
        with contextlib.suppress(httpx.TransportError):
            return check()
        return None

    return wait_until(attempt, timeout=timeout)


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[SimLab]:
    (tmp_path / "dev").mkdir()
    with SimLab(tmp_path / "dev", warmup_seconds=0.5) as lab:
        yield lab


def start_daemon(sims: SimLab, tmp_path: Path) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    port = free_port()
    config = sims.config(tmp_path / "data", listen=f"127.0.0.1:{port}")
    for inst in config["instruments"]:  # type: ignore[attr-defined]
        inst["reconnect_max_s"] = 0.3
        inst["timeout_s"] = 0.5
    path = tmp_path / "daq.yaml"
    path.write_text(yaml.safe_dump(config))
    service = ServiceProcess(
        [sys.executable, "-m", "daq", "serve", "--config", str(path)],
        env={"DAQ_API_TOKEN": TOKEN},
        log=tmp_path / f"daq-{port}.log",
        name="daq serve",
    ).start()
    assert service.proc is not None
    proc = service.proc
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    wait_for(lambda: client.get("/healthz").status_code == 200)
    return proc, client


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_sigkill_mid_acquisition_loses_at_most_a_second_and_tears_no_row(
    sims: SimLab, tmp_path: Path
) -> None:
    proc, client = start_daemon(sims, tmp_path)
    try:
        body = {"readings": ["meter.power", "stage.axis1.position"], "rate_hz": 10}
        csv_acq = client.post("/api/acquisitions", json={**body, "format": "csv"}).json()
        pq_acq = client.post("/api/acquisitions", json={**body, "format": "parquet"}).json()
        wait_for(lambda: client.get(f"/api/acquisitions/{pq_acq['id']}").json()["rows"] > 25)
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()

    path = Path(csv_acq["path"])
    assert path.read_bytes().endswith(b"\r\n"), "a torn last row"
    header, rows = read_csv(path)
    assert header == [
        "time_utc",
        "meter.power",
        "meter.power.status",
        "stage.axis1.position",
        "status",
    ]
    assert len(rows) > 20
    for row in rows:
        assert len(row) == 5
        float(row[1]), float(row[3])
        assert row[2] == "128.0"
        assert row[4] == "ok"
    assert killed_at - stamp(rows[-1][0]) <= 1.0 + 1 / 10 + 0.1

    journal = Path(pq_acq["path"] + ".arrows")
    assert journal.exists()
    assert not Path(pq_acq["path"]).exists()
    # the next start turns the journal the crash left into the Parquet file
    proc, client = start_daemon(sims, tmp_path)
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    assert not journal.exists()
    table = pq.read_table(pq_acq["path"])
    assert parquet_metadata(Path(pq_acq["path"]))["recovered_after_crash"] is True
    assert table.num_rows > 20
    last = table.column("time_utc")[-1].as_py().timestamp()
    assert killed_at - last <= 1.0 + 1 / 10 + 0.1


def test_adapter_unplugged_and_replugged_mid_acquisition(sims: SimLab, tmp_path: Path) -> None:
    proc, client = start_daemon(sims, tmp_path)
    try:
        acq = client.post(
            "/api/acquisitions", json={"readings": ["meter.power"], "rate_hz": 20}
        ).json()
        time.sleep(0.7)
        sims.ports["1830c"].unplug()
        time.sleep(1.2)
        sims.ports["1830c"].replug()
        wait_for(lambda: client.get("/api/instruments/meter").json()["reconnects"] == 1)
        time.sleep(0.7)
        done = client.post(f"/api/acquisitions/{acq['id']}/stop").json()
        metrics = client.get("/metrics").text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert 'daq_reconnects_total{instrument="meter"} 1.0' in metrics
    assert done["gap_rows"] > 5
    _, rows = read_csv(Path(acq["path"]))
    statuses = ["ok" if r[3] == "ok" else "gap" for r in rows]
    # ok rows, then a gap with empty values and the reason, then ok rows again
    first_gap, last_gap = statuses.index("gap"), len(statuses) - 1 - statuses[::-1].index("gap")
    assert first_gap > 5
    assert all(s == "gap" for s in statuses[first_gap : last_gap + 1])
    assert statuses[last_gap + 1 :].count("ok") > 5
    gap_rows = rows[first_gap : last_gap + 1]
    assert all(r[1] == "" and r[2] == "" for r in gap_rows)
    assert any(
        "meter.power" in r[3] and ("lost" in r[3] or "not connected" in r[3]) for r in gap_rows
    )
    gap_seconds = stamp(rows[last_gap + 1][0]) - stamp(rows[first_gap - 1][0])
    assert 1.0 < gap_seconds < 3.0
    # uvicorn re-raises SIGTERM after a graceful stop; systemd counts that as a clean exit
    assert proc.returncode in (0, -signal.SIGTERM)


def test_bad_config_exits_2_naming_each_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "instruments": [
                    {
                        "name": "stage",
                        "kind": "esp300",
                        "port": "/dev/x",
                        "axes": [{"number": 4, "minimum": 0, "maximum": 1}],
                    },
                    {
                        "name": "m",
                        "kind": "ell14",
                        "port": "/dev/y",
                        "mounts": [{"name": "a", "address": "G"}],
                    },
                    {"name": "laser", "kind": "toaster", "port": "/dev/z"},
                ]
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAQ_")}
    result = subprocess.run(
        [sys.executable, "-m", "daq", "check-config", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    err = result.stderr
    assert "DAQ_API_TOKEN: required but not set" in err
    assert "axes.0.number" in err
    assert "address" in err
    assert "toaster" in err
    assert "Traceback" not in err


def test_daq_sim_cli_serves_a_pty_a_driver_can_use_and_takes_faults(tmp_path: Path) -> None:
    from daq.core.errors import InstrumentFault, ReplyTimeout
    from daq.hardware.ell14 import Ell14
    from daq.hardware.serial_transport import PortSettings, SerialTransport

    link = tmp_path / "bus"
    proc = subprocess.Popen(
        [sys.executable, "-m", "daq.sim.cli", "ell14", "--addresses", "0,1,2", "--link", str(link)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None

    def command(word: str) -> None:
        proc.stdin.write(f"{word}\n".encode())  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    try:
        assert proc.stdout.readline().decode().strip() == str(link)
        t = SerialTransport(PortSettings(str(link), baudrate=9600, timeout=0.3, reconnect_max=0.1))
        t.open()
        assert [Ell14(t, a).identify().pulses_per_unit for a in "012"] == [143360] * 3
        command("silence")

        def silent() -> bool:
            try:
                Ell14(t, "0").status()
            except ReplyTimeout:
                return True
            return False

        wait_for(silent)
        command("ok")
        wait_for(lambda: not silent())
        command("unplug")
        wait_for(lambda: not link.exists())
        command("replug")
        wait_for(lambda: link.exists())

        def answers() -> bool:
            try:
                return Ell14(t, "1").status() == 0
            except InstrumentFault:
                return False

        wait_for(answers)
        assert t.reconnects == 1
        t.close()
    finally:
        command("quit")
        proc.stdin.close()
        proc.wait(10)


def test_serve_sim_starts_every_simulator_and_a_matching_config(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DAQ_API_TOKEN"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daq",
            "serve",
            "--sim",
            "--sim-dir",
            str(tmp_path),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "API token: " in line
        token = line.split("API token: ")[1].strip()
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
        )
        listing = wait_for(lambda: client.get("/api/instruments").json())
        assert sorted((i["name"], i["up"]) for i in listing) == [
            ("laser", True),
            ("meter", True),
            ("mounts", True),
            ("stage", True),
        ]
        assert (tmp_path / "daq-sim.yaml").exists()
        assert (tmp_path / "sim-1830c").is_symlink()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
