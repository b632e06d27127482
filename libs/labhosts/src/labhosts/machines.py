"""One virtual host: an overlay over the cached tree, its own identity, booted by nspawn."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

from labhosts.cgroups import host_cgroups
from labhosts.layout import LOGIN_USER, HostSpec, Layout
from labhosts.proxy import PROXY_URL
from labhosts.system import processes, run, wait_until


def ensure_controller_key(layout: Layout) -> Path:
    """The key Ansible logs in with; generated here, never committed."""
    layout.ssh_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not layout.ssh_key.exists():
        run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "labhosts-controller",
                "-f",
                str(layout.ssh_key),
            ]
        )
    return layout.ssh_key


def create_host(layout: Layout, image: Path, host: HostSpec, all_hosts: list[HostSpec]) -> str:
    """Make the host's tree and return its known_hosts line."""
    top = layout.host_dir(host.name)
    upper, work, root = top / "upper", top / "work", layout.host_root(host.name)
    for directory in (upper, work, root):
        directory.mkdir(parents=True, exist_ok=True)
    run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={image},upperdir={upper},workdir={work}",
            str(root),
        ]
    )

    etc = root / "etc"
    (etc / "hostname").write_text(host.name + "\n")
    names = "\n".join(f"{h.address}\t{h.name}" for h in all_hosts)
    (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{host.name}\n{names}\n")
    (etc / "machine-id").write_text(uuid.uuid4().hex + "\n")
    (etc / "apt/apt.conf.d/01labhosts-proxy").write_text(f'Acquire::http::Proxy "{PROXY_URL}";\n')
    host_key = etc / "ssh/ssh_host_ed25519_key"
    run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            f"root@{host.name}",
            "-f",
            str(host_key),
        ]
    )
    # Only the ed25519 host key exists; sshd would log the missing others at every start.
    (etc / "ssh/sshd_config.d/00-labhosts-hostkey.conf").write_text(
        "HostKey /etc/ssh/ssh_host_ed25519_key\n"
    )
    _authorize(root, layout.ssh_key.with_suffix(".pub").read_text())
    public = host_key.with_suffix(".pub").read_text().split()
    return f"{host.address},{host.name} {public[0]} {public[1]}"


def _authorize(root: Path, public_key: str) -> None:
    uid = gid = None
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == LOGIN_USER:
            uid, gid = int(fields[2]), int(fields[3])
    if uid is None or gid is None:
        raise RuntimeError(f"the image has no user {LOGIN_USER!r}")
    ssh = root / "home" / LOGIN_USER / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    keys = ssh / "authorized_keys"
    keys.write_text(public_key)
    keys.chmod(0o600)
    for path in (ssh, keys):
        shutil.chown(path, uid, gid)


def boot(layout: Layout, host: HostSpec) -> int:
    log = layout.runtime / f"{host.name}.console"
    # The shell moves itself into the host's own cgroups, then becomes systemd-nspawn.
    enter = "".join(f'echo $$ > "{group}/cgroup.procs" && ' for group in host_cgroups(host.name))
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                "/bin/sh",
                "-c",
                f'{enter}exec "$@"',
                "systemd-nspawn",
                "systemd-nspawn",
                "--quiet",
                "-D",
                str(layout.host_root(host.name)),
                "--boot",
                "--register=no",
                "--keep-unit",
                f"--network-namespace-path=/run/netns/{host.netns}",
                # Root on a Pi may change its own firewall (the firewall role loads nftables).
                # --private-network would add CAP_NET_ADMIN, but it cannot be combined with
                # --network-namespace-path, which adds nothing (systemd-nspawn(1), systemd
                # 252): granted here, it reaches only the host's own network namespace.
                "--capability=CAP_NET_ADMIN",
                f"--machine={host.name}",
                "--resolv-conf=off",
                "--timezone=off",
                "--link-journal=no",
                "--console=pipe",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (layout.runtime / f"{host.name}.pid").write_text(f"{proc.pid}\n")
    return proc.pid


def ssh_command(layout: Layout, host: HostSpec, *command: str) -> list[str]:
    return [
        "ssh",
        "-i",
        str(layout.ssh_key),
        "-o",
        f"UserKnownHostsFile={layout.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=3",
        "-o",
        "ControlMaster=no",
        f"{LOGIN_USER}@{host.address}",
        *command,
    ]


def wait_for_ssh(layout: Layout, host: HostSpec, pid: int, timeout: float) -> None:
    """Wait until SSH answers and systemd has finished booting (running or degraded)."""
    last = ""
    console = layout.runtime / f"{host.name}.console"

    def answers() -> bool:
        nonlocal last
        if not Path(f"/proc/{pid}").exists():
            raise RuntimeError(f"{host.name}: systemd-nspawn exited: {_tail(console)}")
        try:
            done = subprocess.run(
                ssh_command(layout, host, "systemctl", "is-system-running", "--wait"),
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
        except subprocess.TimeoutExpired:
            last = "systemctl is-system-running --wait did not return within 30 s"
            return False
        last = (done.stdout + done.stderr).strip()
        return done.stdout.strip() in {"running", "degraded"}

    if not wait_until(answers, timeout=timeout, interval=1.0):
        raise RuntimeError(
            f"{host.name}: not ready on {host.address} after {timeout:.0f} s; "
            f"last answer: {last!r}; console: {_tail(console)}"
        )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no console log)"


def nspawn_pids() -> list[int]:
    """systemd-nspawn processes running one of our hosts, found by their namespace path."""
    return [
        pid
        for pid, argv in processes()
        if argv
        and argv[0].endswith("systemd-nspawn")
        and any(a.startswith("--network-namespace-path=/run/netns/lh-") for a in argv)
    ]


def ssh_pids(layout: Layout) -> list[int]:
    """SSH clients of our hosts: they use our key or keep their control socket with us.

    A control master renames itself ``ssh: PATH [mux]``, so the path is what identifies it.
    """
    ours = (str(layout.state), str(layout.runtime))
    return [
        pid
        for pid, argv in processes()
        if argv
        and argv[0].split(":")[0].split("/")[-1] == "ssh"
        and any(mark in arg for arg in argv for mark in ours)
    ]
