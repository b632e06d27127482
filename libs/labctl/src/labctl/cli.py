"""`labctl up` runs the local lab in the foreground; `labctl down` stops it from elsewhere."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

from labctl.plan import Ports, prometheus_config, repo_root, rule_files, services
from labctl.supervisor import LabError, Supervisor, port_in_use
from labkit.logs import configure_logging


def state_dir(root: Path) -> Path:
    return root / ".lab"


def pid_file(root: Path) -> Path:
    return state_dir(root) / "labctl.pid"


def up(ports: Ports) -> int:
    root = repo_root()
    state = state_dir(root)
    state.mkdir(exist_ok=True)
    (state / "dome").mkdir(exist_ok=True)
    if other := running_pid(root):
        raise LabError(f"the lab is already running (pid {other}); stop it with `make lab-down`")
    tcp_ports = {name: port for name, port in vars(ports).items() if name != "dome_discovery"}
    busy = [f"{name} port {port}" for name, port in tcp_ports.items() if port_in_use(port)]
    if busy:
        raise LabError(f"ports already in use on 127.0.0.1: {', '.join(busy)}")
    prometheus_bin = shutil.which("prometheus")
    if prometheus_bin is None:
        raise LabError("`prometheus` is not installed; `make bootstrap` installs it")
    (state / "prometheus.yml").write_text(prometheus_config(ports, rule_files(root)))
    token = api_token(state)
    pid_file(root).write_text(str(os.getpid()))
    supervisor = Supervisor(state)
    try:
        for service in services(root, state, ports, prometheus_bin, token):
            supervisor.start(service)
        print("\nThe lab is up (simulated devices on this machine):", flush=True)
        for running in supervisor.running:
            for what, url in running.service.show.items():
                print(f"  {what:<20} {url}", flush=True)
        print(f"\nCommands to the apps' APIs need the token in {state / 'api-token'}:", flush=True)
        print('  curl -H "Authorization: Bearer $(cat .lab/api-token)" ...', flush=True)
        print("\nCtrl-C or `make lab-down` stops it. Logs: .lab/*.log\n", flush=True)
        reason = supervisor.wait()
        print(f"Stopping the lab: {reason}", flush=True)
        return 0 if reason == "stop requested" else 1
    finally:
        supervisor.stop_all()
        pid_file(root).unlink(missing_ok=True)


def api_token(state: Path) -> str:
    """The local lab's command token: made once, kept in .lab/ (never committed), readable
    by its owner only."""
    path = state / "api-token"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
    return path.read_text().strip()


def running_pid(root: Path) -> int | None:
    try:
        pid = int(pid_file(root).read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def down(timeout: float = 30) -> int:
    root = repo_root()
    pid = running_pid(root)
    if pid is None:
        print("The lab is not running.")
        pid_file(root).unlink(missing_ok=True)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(root) is None:
            print("The lab is stopped.")
            return 0
        time.sleep(0.2)
    print(f"labctl (pid {pid}) did not stop within {timeout:.0f} s", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="labctl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="run the lab in the foreground")
    defaults = Ports()
    for name, port in vars(defaults).items():
        flag = "--" + name.replace("_", "-") + "-port"
        up_parser.add_argument(flag, type=int, default=port, dest=name, metavar="PORT")
    commands.add_parser("down", help="stop a running lab")
    args = parser.parse_args(argv)
    configure_logging("INFO")
    try:
        if args.command == "up":
            code = up(Ports(**{name: getattr(args, name) for name in vars(defaults)}))
        else:
            code = down()
    except LabError as exc:
        print(f"labctl: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)
