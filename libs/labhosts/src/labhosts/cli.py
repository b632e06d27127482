"""``labhosts up|down|status``: the virtual hosts for people (``make hosts-up``)."""

from __future__ import annotations

import argparse
import os
import sys

from labhosts.lab import Lab, LabError
from labhosts.layout import DEFAULT_HOSTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labhosts", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument(
        "--hosts",
        nargs="+",
        default=list(DEFAULT_HOSTS),
        metavar="NAME",
        help="host names (default: the sandbox inventory's hosts)",
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("labhosts: must run as root (namespaces, mounts, systemd-nspawn)", file=sys.stderr)
        return 2
    try:
        lab = Lab(args.hosts)
    except ValueError as error:
        print(f"labhosts: {error}", file=sys.stderr)
        return 2
    if args.command == "up":
        try:
            lab.up()
        except LabError as error:
            print(f"labhosts: {error}", file=sys.stderr)
            return 1
        print(
            f"labhosts: log in with ssh -i {lab.ssh_key} pi@ADDRESS; "
            "`labhosts down` removes everything"
        )
        return 0
    if args.command == "down":
        lab.down()
        left = lab.leftovers()
        if left:
            print("labhosts: could not remove: " + ", ".join(left), file=sys.stderr)
            return 1
        return 0
    for host in lab.status():
        state = "running" if host.running else "stopped"
        ssh = "ssh ok" if host.ssh else "no ssh"
        print(f"{host.name:12} {host.address:15} {state:8} {ssh}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
