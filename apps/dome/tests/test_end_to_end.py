"""The complete controller (control + API processes) in simulation, driven over HTTP."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import httpx
import psutil
import pytest

from dome.core.angles import shortest_delta

from .conftest import DomeServer, start_server, stop_server

pytestmark = pytest.mark.integration
ONE_COUNT = 360 / 1024


def goto(server: DomeServer, az: float) -> None:
    with server.client() as c:
        r = c.post("/api/dome/goto", json={"azimuth": az})
        assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("start", "target", "clockwise"), [(350.0, 10.0, True), (10.0, 350.0, False)]
)
def test_goto_across_north_both_ways(
    dome_server: DomeServer, start: float, target: float, clockwise: bool
) -> None:
    goto(dome_server, start)
    dome_server.idle()
    before = dome_server.sim()["emitted_steps"]
    goto(dome_server, target)
    dome_server.idle()
    after = dome_server.sim()
    turned = after["emitted_steps"] - before
    assert (turned > 0) == clockwise
    assert abs(turned) < 25 / 360 * 320_000  # about 20 degrees, not 340
    status = dome_server.status()
    assert status["state"] == "idle"
    assert abs(shortest_delta(status["azimuth"], target)) <= ONE_COUNT
    assert abs(shortest_delta(after["dome_deg"], target)) <= ONE_COUNT


def test_stop_decelerates_and_abort_stops_now(dome_server: DomeServer) -> None:
    with dome_server.client() as c:
        assert c.post("/api/dome/continuous", json={"direction": 1}).status_code == 200
        time.sleep(1.0)
        assert c.post("/api/dome/stop").status_code == 200
        dome_server.idle(10)
        assert dome_server.status()["last_outcome"] == "continuous: stopped"
        assert c.post("/api/dome/continuous", json={"direction": -1}).status_code == 200
        time.sleep(1.0)
        assert c.post("/api/dome/abort").status_code == 200
    first = dome_server.sim()
    assert not first["busy"]
    time.sleep(0.3)
    assert dome_server.sim()["emitted_steps"] == first["emitted_steps"]
    assert dome_server.status()["state"] == "idle"


def test_continuous_stops_when_its_client_stops_renewing(dome_server: DomeServer) -> None:
    with dome_server.client() as c:
        r = c.post("/api/dome/continuous", json={"direction": 1})
        assert r.status_code == 200
        renew = r.json()["renew_within_s"]
        assert renew > 0
        dome_server.wait(lambda: dome_server.status()["velocity_deg_s"] > 0, 5)
    # the client "died": no renewal
    dome_server.idle(renew + 10)
    assert dome_server.status()["last_outcome"] == "continuous: deadman"


def test_continuous_stops_when_the_api_process_dies(dome_server: DomeServer) -> None:
    """Renewals go through the API; with the API process killed they stop coming."""
    with dome_server.client() as c:
        assert c.post("/api/dome/continuous", json={"direction": -1}).status_code == 200
    api = next(p for p in psutil.Process(dome_server.proc.pid).children() if "api" in p.cmdline())
    api.kill()
    dome_server.idle(20)
    assert dome_server.status()["last_outcome"] == "continuous: deadman"

    def api_back() -> bool:
        try:
            return httpx.get(f"{dome_server.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    dome_server.wait(api_back, 30, every=0.2)


def test_stall_is_detected_and_the_motor_stopped_within_200_ms(dome_server: DomeServer) -> None:
    with dome_server.client() as c:
        for _ in range(3):  # renewed within the deadman, as the page does
            assert c.post("/api/dome/continuous", json={"direction": 1}).status_code == 200
            time.sleep(0.5)  # at full speed after these 1.5 s
        ipc = dome_server.ipc()
        ipc.call("sim_faults", stalled_motor=True)
        injected = time.time()
        dome_server.wait(lambda: dome_server.status()["state"] == "fault", 2, every=0.005)
        ipc.close()
        status = dome_server.status()
        assert "stall" in status["fault"]
        frozen = dome_server.sim()["emitted_steps"]
        time.sleep(0.3)
        assert dome_server.sim()["emitted_steps"] == frozen
        # the fault's own timestamp, written by the control process
        conn = sqlite3.connect(dome_server.state_dir / "sessions.sqlite")
        at = conn.execute("SELECT at FROM events WHERE kind = 'fault' ORDER BY id DESC").fetchone()[
            0
        ]
        conn.close()
        assert at - injected <= 0.2
        r = c.post("/api/dome/goto", json={"azimuth": 10})
        assert r.status_code == 409
        assert "fault" in r.json()["detail"]
        assert c.post("/api/sim/faults", json={}).status_code == 404
        assert c.post("/api/dome/sim/faults", json={"stalled_motor": False}).status_code == 200
        assert c.post("/api/dome/clear-fault").status_code == 200
    assert dome_server.status()["state"] == "idle"


def test_parity_errors_are_counted_and_survived(dome_server: DomeServer) -> None:
    with dome_server.client() as c:
        c.post("/api/dome/sim/faults", json={"parity_error_rate": 0.3}).raise_for_status()
        goto(dome_server, 120.0)
        dome_server.idle()
        c.post("/api/dome/sim/faults", json={"parity_error_rate": 0.0}).raise_for_status()
        status = dome_server.status()
        assert status["state"] == "idle"
        assert status["frame_errors"]["parity"] > 10
        assert abs(shortest_delta(status["azimuth"], 120.0)) <= ONE_COUNT
        metrics = c.get("/metrics").text
    line = next(
        x
        for x in metrics.splitlines()
        if x.startswith('dome_encoder_frame_errors_total{kind="parity"}')
    )
    assert (
        float(line.split()[-1]) == status["frame_errors"]["parity"] or float(line.split()[-1]) > 10
    )
    for name in (
        "dome_azimuth_degrees",
        'dome_state{state="idle"} 1.0',
        "dome_control_loop_period_seconds_bucket",
    ):
        assert name in metrics


BAD_COMMANDS = [
    ("/api/dome/goto", b'{"azimuth": 400}', "azimuth"),
    ("/api/dome/goto", b'{"azimuth": -0.5}', "azimuth"),
    ("/api/dome/goto", b'{"azimuth": NaN}', "azimuth"),
    ("/api/dome/goto", b'{"azimuth": Infinity}', "azimuth"),
    ("/api/dome/goto", b'{"azimuth": "90"}', "azimuth"),
    ("/api/dome/goto", b'{"azimuth": "north"}', "azimuth"),
    ("/api/dome/goto", b"{}", "azimuth"),
    ("/api/dome/goto", b'{"azimuth": 90, "speed": 99}', "speed"),
    ("/api/dome/goto", b"not json", "JSON"),
    ("/api/dome/jog", b'{"degrees": 0}', "jog"),
    ("/api/dome/jog", b'{"degrees": 720}', "degrees"),
    ("/api/dome/continuous", b'{"direction": 2}', "direction"),
    ("/api/dome/sync", b'{"azimuth": 360}', "azimuth"),
    ("/api/tracking/start", b'{"name": "Planet X"}', "unknown target"),
    ("/api/tracking/start", b'{"ra_deg": 10.0, "dec_deg": -80.0}', "below the limit"),
    ("/api/tracking/start", b'{"ra_deg": 10.0}', "both ra_deg and dec_deg"),
    ("/api/tracking/start", b'{"ra_deg": 400.0, "dec_deg": 10.0}', "ra_deg"),
]


@pytest.mark.parametrize(("path", "body", "named"), BAD_COMMANDS)
def test_bad_input_is_refused_naming_the_problem_and_nothing_moves(
    dome_server: DomeServer, path: str, body: bytes, named: str
) -> None:
    dome_server.idle()
    before = dome_server.sim()["emitted_steps"]
    with dome_server.client() as c:
        r = c.post(path, content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert named.lower() in r.json()["detail"].lower()
    time.sleep(0.1)
    assert dome_server.sim()["emitted_steps"] == before
    assert dome_server.status()["state"] == "idle"


@pytest.mark.parametrize(("token", "code"), [(None, 401), ("wrong", 403)])
def test_commands_need_the_token(dome_server: DomeServer, token: str | None, code: int) -> None:
    before = dome_server.sim()["emitted_steps"]
    with dome_server.client(token) as c:
        r = c.post("/api/dome/goto", json={"azimuth": 200})
        assert r.status_code == code
        assert "token" in r.json()["detail"]
        assert c.get("/api/dome/status").status_code == 200  # reads are open by default
    time.sleep(0.1)
    assert dome_server.sim()["emitted_steps"] == before


def test_tracking_a_named_object_moves_the_slit_to_it(dome_server: DomeServer) -> None:
    with dome_server.client() as c:
        found = c.get("/api/tracking/search", params={"q": "polar"}).json()
        assert found[0]["name"] == "Polaris"
        r = c.post("/api/tracking/start", json={"name": "North Star"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["state"] == "tracking"
        assert body["target"]["name"] == "Polaris"
        slit = body["target"]["dome_azimuth"]
        dome_server.wait(
            lambda: (
                not dome_server.status()["moving"]
                and abs(shortest_delta(dome_server.status()["azimuth"], slit)) <= 2.5
            ),
            60,
        )
        assert c.get("/api/tracking").json()["state"] == "tracking"
        assert c.post("/api/tracking/stop").status_code == 200
        dome_server.idle()
        assert dome_server.status()["state"] == "idle"
        sessions = c.get("/api/sessions").json()
        assert any(s["kind"] == "track" for s in sessions)
        assert any(s["kind"] == "goto" and s["outcome"] == "arrived" for s in sessions)


def test_health_diagnostic_and_system(dome_server: DomeServer) -> None:
    with dome_server.client(None) as c:
        diag = c.get("/api/health/diagnostic").json()
        assert diag["control_reachable"] is True
        assert diag["loop"]["healthy"] is True
        assert 45 < diag["loop"]["rate_hz"] < 55
        assert c.get("/api/health/system").json()["simulated"] is True
        assert c.get("/healthz").json()["status"] == "ok"


def test_an_api_crash_stops_nothing_and_moves_nothing(dome_server: DomeServer) -> None:
    goto(dome_server, 30.0)
    dome_server.idle()
    goto(dome_server, 200.0)
    time.sleep(0.3)
    api = next(p for p in psutil.Process(dome_server.proc.pid).children() if "api" in p.cmdline())
    api.kill()  # SIGKILL: the web layer dies mid-slew
    dome_server.idle(60)
    status = dome_server.status()
    assert status["last_outcome"] == "goto: arrived"  # the control loop finished the job
    assert abs(shortest_delta(status["azimuth"], 200.0)) <= ONE_COUNT

    def api_back() -> bool:
        try:
            return httpx.get(f"{dome_server.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    dome_server.wait(api_back, 30, every=0.2)
    moved = dome_server.sim()["emitted_steps"]
    time.sleep(0.5)
    assert dome_server.sim()["emitted_steps"] == moved


def test_sigterm_mid_slew_stops_the_dome_before_exit() -> None:
    """SIGTERM to the control process, as systemd sends it to dome-control."""
    server = start_server({"DOME_MAX_SPEED_DEG_S": "6", "DOME_ACCELERATION_DEG_S2": "6"})
    try:
        control = next(
            p for p in psutil.Process(server.proc.pid).children() if "control" in p.cmdline()
        )
        goto(server, 180.0)
        time.sleep(2.0)
        assert server.status()["moving"]
        control.send_signal(signal.SIGTERM)
        started = time.monotonic()
        control.wait(timeout=30)  # not our child: psutil cannot give its exit status
        took = time.monotonic() - started
        server.proc.wait(timeout=30)  # without its control process, serve stops too
        log = server.log.read_text()[-3000:]
        assert "control process exited code=0" in log, log
        assert took < 6, log  # a 1 s deceleration, then closing down
        final = json.loads((server.state_dir / "sim-dome.json").read_text())
        assert not final["busy"], log
        assert 5 < final["dome_deg"] < 170, log  # stopped on the way, not at the target
        conn = sqlite3.connect(server.state_dir / "sessions.sqlite")
        outcome = conn.execute("SELECT outcome FROM sessions ORDER BY id DESC").fetchone()[0]
        conn.close()
        assert outcome == "stopped", log
        assert "dome stopped" in log
    finally:
        stop_server(server)


def test_sigterm_to_dome_serve_mid_slew_stops_the_dome_before_exit() -> None:
    server = start_server({"DOME_MAX_SPEED_DEG_S": "6", "DOME_ACCELERATION_DEG_S2": "6"})
    try:
        goto(server, 180.0)
        time.sleep(2.0)
        assert server.status()["moving"]
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=30)
        log = server.log.read_text()[-3000:]
        assert server.proc.returncode == 0, log
        final = json.loads((server.state_dir / "sim-dome.json").read_text())
        assert not final["busy"], log
        assert 5 < final["dome_deg"] < 60, log  # stopped soon, far from the target
        assert "dome stopped" in log
    finally:
        stop_server(server)
