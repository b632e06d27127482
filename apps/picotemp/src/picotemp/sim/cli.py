"""``picotemp-sim``: a simulated Pico W on HOST:PORT, with an optional control endpoint."""

from __future__ import annotations

import argparse
import asyncio
import signal

from labkit.cli import run_main
from labkit.listen import ListenAddress
from labkit.logs import configure_logging, get_logger
from labkit.serve import serve_async

from picotemp.firmware import core
from picotemp.sim.control import control_app
from picotemp.sim.faults import Fault
from picotemp.sim.sensor import SimulatedAdc, TemperatureCurve
from picotemp.sim.server import PicoSimulator

log = get_logger("picotemp.sim")


def _listen(text: str) -> ListenAddress:
    try:
        return ListenAddress.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="picotemp-sim", description="Serve a simulated Pico W temperature sensor over HTTP."
    )
    parser.add_argument("--listen", type=_listen, required=True, help="HOST:PORT for the device")
    parser.add_argument(
        "--control", type=_listen, help="HOST:PORT for the control endpoint (faults, counters)"
    )
    parser.add_argument("--base", type=float, default=21.0, help="mean temperature, °C")
    parser.add_argument("--amplitude", type=float, default=2.0, help="swing around it, °C")
    parser.add_argument("--period", type=float, default=600.0, help="period of the swing, s")
    parser.add_argument("--noise", type=float, default=0.0, help="sensor noise (sd), °C")
    parser.add_argument(
        "--fault", type=Fault, choices=list(Fault), default=Fault.NONE, help="fault at start"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    try:
        args.curve = TemperatureCurve(args.base, args.amplitude, args.period, args.noise)
    except ValueError as exc:
        parser.error(str(exc))
    return args


async def run(args: argparse.Namespace) -> None:
    sim = PicoSimulator(args.listen, core.Sensor(SimulatedAdc(args.curve)))
    await sim.set_fault(args.fault)
    try:
        if args.control is not None:
            # uvicorn owns SIGTERM/SIGINT here and returns from serve_async on either.
            await serve_async(control_app(sim), args.control, name="picotemp-sim control")
        else:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
    finally:
        await sim.stop()
        log.info("pico simulator stopped", requests_total=sim.requests_total)


def _main() -> int:
    args = parse_args()
    configure_logging(args.log_level)
    asyncio.run(run(args))
    return 0


def main() -> None:
    run_main("picotemp-sim", _main)


if __name__ == "__main__":
    main()
