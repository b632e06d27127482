"""Bring the virtual hosts up and down; the one API the CLI and the pytest fixture share."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from labhosts import cgroups, image, machines, network, proxy
from labhosts.layout import BRIDGE, DEFAULT_HOSTS, HostSpec, Layout, host_specs
from labhosts.system import alive, terminate, unmount_below

BOOT_TIMEOUT = 180.0


class LabError(RuntimeError):
    """The hosts could not be brought up; the message says which step failed."""


@dataclass(frozen=True)
class HostStatus:
    name: str
    address: str
    running: bool
    ssh: bool


class Lab:
    def __init__(self, names: Sequence[str] = DEFAULT_HOSTS, layout: Layout | None = None):
        self.layout = layout or Layout()
        self.hosts: list[HostSpec] = host_specs(list(names))

    @property
    def ssh_key(self) -> Path:
        return self.layout.ssh_key

    @property
    def known_hosts(self) -> Path:
        return self.layout.known_hosts

    def up(
        self, *, log: bool = True, say: Callable[[str, str], None] | None = None
    ) -> list[HostSpec]:
        """Clean up leftovers, then create, boot and wait for every host.

        Progress goes to ``say(message, host)`` if given, else to stdout (unless ``log`` is
        false). On any failure everything created so far is removed before the error is
        raised.
        """

        def report(message: str, host: str) -> None:
            if say is not None:
                say(message, host)
            elif log:
                self._say(True, f"{host}: {message}" if host else message)

        self.down()
        layout = self.layout
        layout.runtime.mkdir(parents=True, exist_ok=True)
        (layout.runtime / "cp").mkdir(exist_ok=True)
        started = time.monotonic()
        try:
            report("image: using the cached tree or building it (about a minute)", "")
            layout.cache.mkdir(parents=True, exist_ok=True)
            # Outside runtime/, which a failed `up` removes: the log must outlive it.
            tree = image.ensure_image(layout, layout.cache / "debootstrap.log")
            machines.ensure_controller_key(layout)
            network.create_bridge()
            for host in self.hosts:
                network.create_host_network(host)
            proxy.start_proxy(layout)
            known = [machines.create_host(layout, tree, h, self.hosts) for h in self.hosts]
            layout.known_hosts.write_text("\n".join(known) + "\n")
            pids = {h.name: machines.boot(layout, h) for h in self.hosts}
            for host in self.hosts:
                machines.wait_for_ssh(layout, host, pids[host.name], BOOT_TIMEOUT)
                report(f"up at {host.address}", host.name)
        except BaseException as error:
            self.down()
            if isinstance(error, Exception):
                raise LabError(f"labhosts up failed: {error}") from error
            raise
        report(f"{len(self.hosts)} hosts up in {time.monotonic() - started:.0f} s", "")
        return self.hosts

    def down(self) -> None:
        """Remove everything the harness creates, whoever started it. Safe to repeat."""
        layout = self.layout
        terminate(machines.ssh_pids(layout), grace=2)
        # SIGTERM asks each host's systemd to power off; all shut down in parallel.
        terminate(machines.nspawn_pids(), grace=20)
        for netns in network.our_namespaces():
            terminate(network.pids_in(netns), grace=2)
        terminate(proxy.proxy_pids(layout), grace=5)
        if layout.hosts_dir.exists():
            unmount_below(layout.hosts_dir)
        image.remove_partial_builds(layout)
        for netns in network.our_namespaces():
            network.delete_namespace(netns)
        links = network.our_links()
        for link in sorted(links, key=lambda name: name == BRIDGE):
            network.delete_link(link)
        for group in cgroups.our_cgroups():
            cgroups.remove_cgroup(group)
        shutil.rmtree(layout.hosts_dir, ignore_errors=True)
        shutil.rmtree(layout.runtime, ignore_errors=True)
        if layout.known_hosts.exists():
            layout.known_hosts.unlink()

    def leftovers(self) -> list[str]:
        """Everything of ours that still exists (empty after a clean ``down``)."""
        layout = self.layout
        found = [f"process {pid}" for pid in machines.nspawn_pids()]
        found += [f"process {pid}" for pid in proxy.proxy_pids(layout)]
        found += [f"process {pid}" for pid in machines.ssh_pids(layout)]
        found += [f"namespace {ns}" for ns in network.our_namespaces()]
        found += [f"link {link}" for link in network.our_links()]
        from labhosts.system import mount_points

        found += [
            f"mount {p}"
            for p in mount_points()
            if layout.state in p.parents
            or layout.runtime in p.parents
            or (layout.images in p.parents and ".build-" in str(p))
        ]
        found += [f"directory {p}" for p in (layout.hosts_dir, layout.runtime) if p.exists()]
        found += [f"cgroup {group}" for group in cgroups.our_cgroups()]
        return found

    def status(self) -> list[HostStatus]:
        result = []
        for host in self.hosts:
            pid_file = self.layout.runtime / f"{host.name}.pid"
            running = pid_file.exists() and alive(int(pid_file.read_text()))
            result.append(
                HostStatus(host.name, str(host.address), running, running and _ssh_port(host))
            )
        return result

    @staticmethod
    def _say(enabled: bool, message: str) -> None:
        if enabled:
            print(f"labhosts: {message}", flush=True)


def _ssh_port(host: HostSpec) -> bool:
    try:
        with socket.create_connection((str(host.address), 22), timeout=1):
            return True
    except OSError:
        return False
