"""Tracking over simulated time: the sky clock and the control loop both run simulated."""

from collections.abc import Callable

import pytest
from astropy import units as u
from astropy.time import Time

from dome.core.angles import shortest_delta
from dome.core.controller import State
from dome.core.errors import BelowHorizonError
from dome.core.geometry import DomeGeometry
from dome.core.tracking import Site, SlitCalculator, TrackingService
from dome.sim.world import SimWorld

VEGA = {"name": "Vega", "ra_deg": 279.2347, "dec_deg": 38.7837}
SIRIUS = {"name": "Sirius", "ra_deg": 101.2872, "dec_deg": -16.7161}
T0 = Time("2026-07-15T22:15:00", scale="utc")  # Vega near transit: azimuth changes fast


def setup(start_az: float = 0.0) -> tuple[SimWorld, TrackingService, Callable[[], Time]]:
    w = SimWorld(start_deg=start_az)
    w.run(0.1)
    t_start = w.clock.now

    def now() -> Time:
        return T0 + (w.clock.now - t_start) * u.s

    calc = SlitCalculator(
        Site(52.0, 5.0, 10.0),
        DomeGeometry(
            radius_m=1.5, latitude_deg=52.0, mount_offset_east_m=0.2, optical_offset_m=0.25
        ),
    )
    service = TrackingService(
        w.controller, calc, update_s=30.0, dead_band_deg=2.0, min_altitude_deg=5.0, now=now
    )
    return w, service, now


def test_tracking_follows_a_target_over_simulated_time() -> None:
    w, service, _now = setup()
    c = w.controller
    service.start(VEGA)
    assert c.state is State.TRACKING
    w.run_until(lambda: not c.is_moving(), 120)
    expected_path = []
    for _ in range(40):  # 20 simulated minutes, an update every 30 s
        w.run(service.update_s)
        pointing = service.update()
        assert pointing is not None
        expected_path.append(pointing.dome_azimuth)
        az = c.azimuth()
        assert az is not None
        # within the dead band (plus the settling count) of where the slit should be
        assert abs(shortest_delta(az, pointing.dome_azimuth)) <= 2.0 + 2 * 360 / 1024 + 0.5
    assert c.state is State.TRACKING
    assert abs(shortest_delta(expected_path[0], expected_path[-1])) > 5  # the sky did move
    moves = [d for k, d in w.events if k == "motion_started" and d["intent"] == "track"]
    # in steps, not chattering: fewer moves than updates, but more than one
    assert 2 <= len(moves) < 40


def test_below_the_horizon_is_refused_with_a_reason_and_nothing_moves() -> None:
    w, service, _ = setup()
    with pytest.raises(BelowHorizonError, match=r"Sirius is at altitude -\d"):
        service.start(SIRIUS)
    w.run(1.0)
    assert w.dome.snapshot()["emitted_steps"] == 0
    assert w.controller.state is State.IDLE


def test_a_target_that_sets_stops_tracking_with_a_reason() -> None:
    w, service, _ = setup()
    service.start(VEGA)
    w.run(1.0)
    # half a day later Vega is low in the north (only the sky clock jumps)
    service._now = lambda: T0 + 14 * u.hour
    service.min_altitude_deg = 40.0
    service.update()
    assert service.last_reason is not None
    assert "below the altitude limit" in service.last_reason
    w.run_until(lambda: not w.controller.is_moving(), 60)
    assert w.controller.state is State.IDLE


def test_one_tracking_update_is_quick_enough_for_the_thread() -> None:
    _w, service, _ = setup()
    service.start(VEGA)
    service.update()
    assert service.last_update_s is not None
    assert service.last_update_s < 1.0  # the bench measures it properly; this guards hangs
