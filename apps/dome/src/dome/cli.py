"""``dome``: serve (all processes), control, api, import-corrections."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dome.config import DomeSettings, get_settings
from labkit.cli import run_main
from labkit.listen import ListenAddress
from labkit.logs import configure_logging, get_logger
from labkit.settings import ConfigError

log = get_logger("dome")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dome", description="Observatory dome controller")
    sub = p.add_subparsers(dest="command", required=True)
    for name, text in (
        ("serve", "run the control process and the API process together"),
        ("control", "run the control process only (motor, encoder, state machine)"),
        ("api", "run the API process only (HTTP, Alpaca, page)"),
    ):
        s = sub.add_parser(name, help=text)
        s.add_argument("--config", type=Path, help="YAML settings file")
        s.add_argument("--sim", action="store_true", help="simulated dome instead of the hardware")
        if name != "control":
            s.add_argument("--listen", help="HOST:PORT for the API (overrides DOME_LISTEN)")
    imp = sub.add_parser("import-corrections", help="convert the old spreadsheet export to CSV")
    imp.add_argument("source", type=Path)
    imp.add_argument("target", type=Path)
    return p


def _settings(args: argparse.Namespace) -> DomeSettings:
    settings = get_settings(args.config)
    if getattr(args, "listen", None):
        try:
            listen = ListenAddress.parse(args.listen)
        except ValueError as exc:
            raise ConfigError(f"--listen: {exc}") from None
        settings = settings.model_copy(update={"listen": listen})
    return settings


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "import-corrections":
        from dome.core.corrections import CorrectionTableError, import_legacy

        try:
            table = import_legacy(args.source.read_text(encoding="utf-8-sig"), str(args.source))
        except (OSError, CorrectionTableError) as exc:
            print(f"dome: {exc}", file=sys.stderr)
            return 1
        args.target.write_text(table.to_csv())
        print(f"{len(table.azimuths)} points written to {args.target}")
        return 0
    settings = _settings(args)
    configure_logging(settings.log_level)
    if args.command == "control":
        from dome.control.process import run_control

        return run_control(settings, sim=args.sim)
    if settings.api_token is None:
        raise ConfigError("DOME_API_TOKEN: required but not set (commands need a token)")
    if args.command == "api":
        return _run_api(settings, sim=args.sim)
    return _serve(args, settings)


def _run_api(settings: DomeSettings, *, sim: bool) -> int:
    from dome.api.app import create_app
    from labkit.serve import serve

    serve(create_app(settings, simulated=sim), settings.listen, name="dome-api")
    return 0


def _serve(args: argparse.Namespace, settings: DomeSettings) -> int:
    """Start the control process, then the API; restart the API if it dies; on SIGTERM
    or SIGINT pass it to both (the control process stops the dome before it exits)."""
    base = [sys.executable, "-m", "dome"]
    extra = ["--sim"] if args.sim else []
    if args.config:
        extra += ["--config", str(args.config)]
    env = dict(
        os.environ, DOME_LISTEN=str(settings.listen), DOME_SOCKET_PATH=str(settings.socket_path)
    )
    control = subprocess.Popen([*base, "control", *extra], env=env)
    deadline = time.monotonic() + 15
    while not settings.socket_path.exists():
        if control.poll() is not None or time.monotonic() > deadline:
            log.error("control process did not start")
            control.terminate()
            return 1
        time.sleep(0.05)
    api = subprocess.Popen([*base, "api", *extra], env=env)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    code = 0
    while not stopping:
        time.sleep(0.1)
        if control.poll() is not None:
            log.error("control process exited", code=control.returncode)
            code = control.returncode or 1
            break
        if api.poll() is not None:
            log.error("API process exited: restarting it", code=api.returncode)
            api = subprocess.Popen([*base, "api", *extra], env=env)
    # both at once: the control process starts stopping the dome now, not after the
    # API has finished its graceful shutdown
    for proc in (control, api):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in (control, api):
        try:
            proc.wait(timeout=settings.stop_timeout_s + 5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return code


def entry() -> None:
    run_main("dome", main)
