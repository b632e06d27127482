"""The lab's own safety behaviour against the simulators: polling keeps the laser's
watchdog fed while the daemon runs; once it stops (or dies) the laser's watchdog turns the
pump off; at start everything is brought to a safe state."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from daq.assembly import build_lab
from daq.config import DaqSettings
from daq.core.instruments import Laser
from daq.sim.lab import SimLab

pytestmark = pytest.mark.integration


def test_the_laser_thread_feeds_its_watchdog_and_silence_turns_the_pump_off(
    tmp_path: Path,
) -> None:
    (tmp_path / "dev").mkdir()
    with SimLab(tmp_path / "dev", warmup_seconds=0.1, laser_warm=True) as sims:
        config = sims.config(tmp_path / "data")
        config["monitor_interval_s"] = 0.2
        config["instruments"][2]["watchdog_s"] = 1  # type: ignore[index]
        lab = build_lab(DaqSettings(api_token="t" * 20, **config))  # type: ignore[arg-type]
        sims.maitai.shutter_command = True  # left open by a previous run
        sims.maitai.shutter_changed = -1e9
        time.sleep(0.2)
        lab.start()
        assert sims.maitai.shutter_open(time.monotonic() + 1) is False  # made safe at start
        laser = lab.get("laser", Laser)
        assert laser.request_emission(confirm=True) == "emitting"
        time.sleep(2.0)  # twice the watchdog: only the laser's own thread keeps it on
        assert sims.maitai.emission is True
        assert laser.last_fed is not None
        assert time.time() - laser.last_fed < 1
        lab.shutdown()
        time.sleep(1.5)
        sims.maitai.output(time.monotonic())  # the laser notices the silence
        assert sims.maitai.emission is False


def test_a_long_mount_move_does_not_starve_the_lasers_watchdog(tmp_path: Path) -> None:
    """A slow ELL14 move holds its bus for seconds; the laser's watchdog (1 s) is fed by
    the laser's own thread on its own port, so the pump stays on throughout."""
    import threading

    from daq.core.instruments import MountBus

    (tmp_path / "dev").mkdir()
    with SimLab(tmp_path / "dev", warmup_seconds=0.1, laser_warm=True) as sims:
        config = sims.config(tmp_path / "data")
        config["monitor_interval_s"] = 0.5
        config["instruments"][2]["watchdog_s"] = 1  # type: ignore[index]
        config["instruments"][3]["move_timeout_s"] = 30  # type: ignore[index]
        lab = build_lab(DaqSettings(api_token="t" * 20, **config))  # type: ignore[arg-type]
        lab.start()
        try:
            laser = lab.get("laser", Laser)
            assert laser.request_emission(confirm=True) == "emitting"
            bus = lab.get("mounts", MountBus)
            bus.set_velocity("mount0", 5)  # 36 degrees a second: 3 s for 108 degrees
            mover = threading.Thread(target=lambda: bus.move("mount0", 108))
            mover.start()
            time.sleep(2.5)  # more than twice the watchdog while the bus is held
            assert mover.is_alive()  # still moving: the bus was held all along
            assert sims.maitai.emission is True
            mover.join(30)
        finally:
            lab.shutdown()
