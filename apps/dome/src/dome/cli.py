"""``dome``: serve (all processes), control, api, corrections import/lookup."""

from __future__ import annotations

import argparse
import math
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
    corr = sub.add_parser("corrections", help="the measured dome correction table")
    corr_sub = corr.add_subparsers(dest="action", required=True)
    imp = corr_sub.add_parser("import", help="import Loi_coupole.xlsx into the controller")
    imp.add_argument("source", type=Path, help="the workbook (.xlsx)")
    imp.add_argument("--config", type=Path, help="YAML settings file")
    look = corr_sub.add_parser(
        "lookup", help="the dome azimuth the controller would command for an object"
    )
    look.add_argument("--alt", type=float, required=True, help="object altitude, degrees")
    look.add_argument("--az", type=float, required=True, help="object azimuth, degrees")
    look.add_argument("--pier", choices=["east", "west"], help="the mount's side, if known")
    look.add_argument("--config", type=Path, help="YAML settings file")
    return p


def _corrections(args: argparse.Namespace) -> int:
    from dome.control.ipc import IpcClient
    from dome.core.corrections import CorrectionTable, CorrectionTableError, import_xlsx
    from dome.core.errors import DomeError
    from dome.core.tracking import build_calculator

    settings = get_settings(args.config)
    if args.action == "import":
        try:
            imported = import_xlsx(args.source, settings.corrections_flip_threshold_deg)
        except CorrectionTableError as exc:
            print(f"dome: {args.source}: {exc}", file=sys.stderr)
            return 1
        imported.save(settings.corrections_file)
        print(f"{args.source}: {imported.report()}")
        print(f"saved to {settings.corrections_file}")
        client = IpcClient(settings.socket_path, timeout=2)
        try:
            client.call("reload_corrections")
            print("the running controller uses it now")
        except DomeError:
            print("the controller is not running: it will use it when it starts")
        finally:
            client.close()
        return 0
    for name, value, lo, hi in (("--alt", args.alt, -90, 90), ("--az", args.az, 0, 360)):
        if not math.isfinite(value) or not lo <= value <= hi:
            print(f"dome: {name} must be in [{lo}, {hi}] degrees, got {value}", file=sys.stderr)
            return 2
    table: CorrectionTable | None
    try:
        table = CorrectionTable.load(settings.corrections_file)
    except CorrectionTableError as exc:
        print(f"dome: {exc}", file=sys.stderr)
        return 1
    calc = build_calculator(settings, table)
    p = calc.slit(args.alt, args.az % 360.0, args.pier)
    print(f"dome azimuth {p.dome_azimuth:.2f} deg  ({p.rule})")
    if table is None:
        print(f"no correction table imported ({settings.corrections_file} missing)")
    return 0


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
    if args.command == "corrections":
        return _corrections(args)
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
