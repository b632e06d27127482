"""``daq serve --config FILE`` runs the daemon; ``daq serve --sim`` runs it on simulators.

With ``--sim`` every instrument is simulated on its own pty, a matching configuration is
written next to them, and, unless ``DAQ_API_TOKEN`` is set, a token is made up and
printed. ``daq check-config FILE`` validates a configuration and exits.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from pathlib import Path

import yaml

from daq.api.app import create_app
from daq.assembly import build_lab
from daq.config import DaqSettings, get_settings
from labkit.cli import run_main
from labkit.logs import configure_logging, get_logger
from labkit.serve import serve
from labkit.settings import load_settings

log = get_logger("daq")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="daq", description="Lab-instrument daemon")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the daemon")
    source = serve_cmd.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="YAML configuration file")
    source.add_argument("--sim", action="store_true", help="simulate every instrument")
    serve_cmd.add_argument(
        "--sim-dir", type=Path, help="where --sim puts its ptys, config and data"
    )
    serve_cmd.add_argument(
        "--listen", default="127.0.0.1:8470", help="with --sim: HOST:PORT to serve on"
    )
    check = commands.add_parser("check-config", help="validate a configuration file")
    check.add_argument("config", type=Path)
    return parser


def _serve(settings: DaqSettings) -> int:
    configure_logging(settings.log_level)
    lab = build_lab(settings)
    app = create_app(lab, settings.api_token.get_secret_value())
    log.info("starting", instruments=len(lab.instruments), data_dir=str(settings.data_dir))
    serve(app, settings.listen, name="daq", healthy=lab.healthy)
    return 0


def _serve_sim(directory: Path | None, listen: str) -> int:
    from daq.sim.lab import SimLab  # only --sim needs the simulators

    where = directory or Path(tempfile.mkdtemp(prefix="daq-sim-"))
    where.mkdir(parents=True, exist_ok=True)
    with SimLab(where, addresses=["0", "1"]) as sims:
        config = sims.config(where / "data", listen=listen)
        path = where / "daq-sim.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        if not os.environ.get("DAQ_API_TOKEN"):
            os.environ["DAQ_API_TOKEN"] = secrets.token_urlsafe(24)
            print(f"daq: simulated lab; API token: {os.environ['DAQ_API_TOKEN']}", file=sys.stderr)
        print(f"daq: simulators and config in {where}", file=sys.stderr, flush=True)
        return _serve(load_settings(DaqSettings, path))


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)

    def run() -> int:
        if args.command == "check-config":
            settings = get_settings(args.config)
            print(f"{args.config}: ok, {len(settings.instruments)} instrument(s)")
            return 0
        if args.sim:
            return _serve_sim(args.sim_dir, args.listen)
        return _serve(get_settings(args.config))

    run_main("daq", run)
