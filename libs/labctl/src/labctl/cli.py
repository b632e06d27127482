"""`labctl up|down|status`: the virtual lab (`make lab`, `make lab-down`);
`labctl dev`: the apps as local processes in the foreground (`make dev`)."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

from labctl import virtual
from labctl.plan import Ports, prometheus_config, repo_root, rule_files, services
from labctl.progress import Progress, StepError
from labctl.supervisor import LabError, Supervisor, port_in_use
from labkit.logs import configure_logging


def state_dir(root: Path) -> Path:
    return root / ".lab"


def pid_file(root: Path) -> Path:
    return state_dir(root) / "labctl.pid"


def dev(ports: Ports) -> int:
    root = repo_root()
    state = state_dir(root)
    state.mkdir(exist_ok=True)
    (state / "dome").mkdir(exist_ok=True)
    if other := running_pid(root):
        raise LabError(
            f"the dev lab is already running (pid {other}); stop it with `make dev-down`"
        )
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
        print("\nThe dev lab is up (the apps as local processes, simulated):", flush=True)
        for running in supervisor.running:
            for what, url in running.service.show.items():
                print(f"  {what:<20} {url}", flush=True)
        print(f"\nCommands to the apps' APIs need the token in {state / 'api-token'}:", flush=True)
        print('  curl -H "Authorization: Bearer $(cat .lab/api-token)" ...', flush=True)
        print("\nCtrl-C or `make dev-down` stops it. Logs: .lab/*.log\n", flush=True)
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


def dev_down(timeout: float = 30) -> int:
    root = repo_root()
    pid = running_pid(root)
    if pid is None:
        print("The dev lab is not running.")
        pid_file(root).unlink(missing_ok=True)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(root) is None:
            print("The dev lab is stopped.")
            return 0
        time.sleep(0.2)
    print(f"labctl (pid {pid}) did not stop within {timeout:.0f} s", file=sys.stderr)
    return 1


def _options(args: argparse.Namespace) -> virtual.Options:
    root = repo_root()
    state = args.state_dir or virtual.env_default_state(root)
    ports = virtual.Ports(prometheus=args.prometheus_port, alertmanager=args.alertmanager_port)
    return virtual.Options(
        root=root, state=state.resolve(), ports=ports, rule_for_max=args.alert_for_max
    )


def lab_up(options: virtual.Options) -> int:
    if os.geteuid() != 0:
        print(
            "make lab: the virtual hosts need root (network namespaces, mounts, "
            "systemd-nspawn): run it as root or with sudo",
            file=sys.stderr,
        )
        return 2
    progress = Progress()
    try:
        outcome = virtual.up(options, progress)
    except StepError as failure:
        print(f"\nmake lab: {failure}", file=sys.stderr, flush=True)
        return 1
    print(virtual.summary(options.root, options.state, options.ports, outcome.seconds), flush=True)
    return 0


def lab_down(options: virtual.Options) -> int:
    dev_down()
    left = virtual.down(options)
    if left:
        print("lab-down: could not remove: " + ", ".join(left), file=sys.stderr)
        return 1
    print("The virtual lab is removed: hosts, namespaces, links, mounts, processes, ports.")
    return 0


def lab_status(options: virtual.Options) -> int:
    ports = virtual.saved_ports(options.state)
    if not virtual.active_targets(ports.prometheus):
        print("The virtual lab's Prometheus is not running; `make lab` starts it all.")
    print(virtual.summary(options.root, options.state, ports), flush=True)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="labctl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("up", "build or converge the virtual lab (make lab)"),
        ("down", "remove the virtual lab and stop the dev lab (make lab-down)"),
        ("status", "print the virtual lab's hosts, services and URLs"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--state-dir", type=Path, help="state, logs, configs (default .lab/)")
        sub.add_argument("--prometheus-port", type=int, default=virtual.Ports().prometheus)
        sub.add_argument("--alertmanager-port", type=int, default=virtual.Ports().alertmanager)
        sub.add_argument(
            "--alert-for-max",
            metavar="DURATION",
            help="tests only: shorten every alert's `for:` to at most this (e.g. 10s)",
        )
    dev_parser = commands.add_parser("dev", help="run the apps as local processes (make dev)")
    defaults = Ports()
    for name, port in vars(defaults).items():
        flag = "--" + name.replace("_", "-") + "-port"
        dev_parser.add_argument(flag, type=int, default=port, dest=name, metavar="PORT")
    commands.add_parser("dev-down", help="stop a running dev lab")
    args = parser.parse_args(argv)
    configure_logging("INFO")
    try:
        if args.command == "dev":
            code = dev(Ports(**{name: getattr(args, name) for name in vars(defaults)}))
        elif args.command == "dev-down":
            code = dev_down()
        elif args.command == "up":
            code = lab_up(_options(args))
        elif args.command == "down":
            code = lab_down(_options(args))
        else:
            code = lab_status(_options(args))
    except LabError as exc:
        print(f"labctl: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)
