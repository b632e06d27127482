"""``daq-sim esp300|1830c|maitai|ell14``: one simulator on a pty, its path on stdout.

Faults are typed on stdin while it runs: a fault name (``silence``, ``garbage``,
``partial``, ``late``, ``split``, ``echo``, ``drop``) applies to every reply, ``once
<fault>`` to the next reply only, ``noise`` sends line noise, ``ok`` clears the fault;
``unplug``, ``replug``, ``quit``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from daq.sim.ell14 import Ell14BusSim
from daq.sim.esp300 import ESP300Sim
from daq.sim.lab import BAUD, KINDS
from daq.sim.maitai import MaiTaiSim
from daq.sim.pm1830c import PowerMeter1830CSim
from daq.sim.pty_port import FAULTS, PtyPort, SimDevice
from daq.sim.world import World


def build(kind: str, addresses: list[str], warmup: float, warm: bool = False) -> SimDevice:
    if kind == "esp300":
        return ESP300Sim()
    if kind == "1830c":
        world = World(laser_output=lambda now: 1.0)  # a steady source when run alone
        return PowerMeter1830CSim(world)
    if kind == "maitai":
        return MaiTaiSim(warmup_seconds=warmup, started=time.monotonic(), warm=warm)
    return Ell14BusSim(addresses)


def parse_addresses(text: str) -> list[str]:
    addresses = [a.strip().upper() for a in text.split(",") if a.strip()]
    bad = [a for a in addresses if len(a) != 1 or a not in "0123456789ABCDEF"]
    if bad or not addresses:
        raise argparse.ArgumentTypeError(
            f"addresses are hex digits 0-F separated by commas, got {text!r}"
        )
    return addresses


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="daq-sim", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument(
        "--addresses", type=parse_addresses, default=["0"], help="ELL14 bus addresses, e.g. 0,1,2"
    )
    parser.add_argument(
        "--link", type=Path, help="stable symlink to serve at (default: in a temporary directory)"
    )
    parser.add_argument("--warmup", type=float, default=10.0, help="MaiTai warm-up seconds")
    parser.add_argument("--warm", action="store_true", help="MaiTai already warm at start")
    parser.add_argument(
        "--baud", type=int, help="pace bytes at this rate (default: the instrument's)"
    )
    args = parser.parse_args(argv)
    link = args.link or Path(tempfile.mkdtemp(prefix="daq-sim-")) / args.kind
    port = PtyPort(
        build(args.kind, args.addresses, args.warmup, args.warm),
        link,
        baudrate=args.baud or BAUD[args.kind],
    )
    with port:
        print(link, flush=True)
        print(f"daq-sim: {args.kind} on {port.slave_name} via {link}", file=sys.stderr, flush=True)
        for line in sys.stdin:
            word = line.strip().lower()
            once = word.removeprefix("once ").strip()
            if word.startswith("once ") and once in FAULTS:
                port.inject(once)
            elif word == "noise":
                port.inject("noise")
            elif word in FAULTS:
                port.fault = word
            elif word == "ok":
                port.fault = None
            elif word == "unplug":
                port.unplug()
            elif word == "replug":
                port.replug()
            elif word == "quit":
                break
            elif word:
                print(f"daq-sim: unknown command {word!r}", file=sys.stderr, flush=True)
        else:
            # stdin closed (run in the background): serve until killed
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
