"""An HTTP proxy on the bridge address: the hosts' only way to the Debian archive.

Debian's tinyproxy, run with a config of our own. (apt-cacher-ng was the first choice but
answers "503 Host not found" for every upstream on this machine, although the name
resolves; tinyproxy uses the system resolver and works.) Downloaded packages are kept
between runs by the shared apt archive the hosts mount instead (see ``machines.boot``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess

from labhosts.layout import GATEWAY, PROXY_PORT, SUBNET, Layout
from labhosts.system import processes, wait_until

PROXY_URL = f"http://{GATEWAY}:{PROXY_PORT}"


def start_proxy(layout: Layout) -> int:
    binary = shutil.which("tinyproxy") or shutil.which("tinyproxy", path="/usr/bin:/usr/sbin")
    if binary is None:
        raise FileNotFoundError("tinyproxy is not installed (see deps/apt/hosts.txt)")
    config = layout.runtime / "tinyproxy.conf"
    config.write_text(
        f"Port {PROXY_PORT}\n"
        f"Listen {GATEWAY}\n"
        f"Allow {SUBNET}\n"
        "Timeout 600\n"
        "MaxClients 50\n"
        "LogLevel Warning\n"
        # Only the Debian archive, so a role cannot quietly depend on anything else.
        f"FilterDefaultDeny Yes\n"
        f'Filter "{layout.runtime / "tinyproxy.filter"}"\n'
        "FilterURLs Off\n"
    )
    (layout.runtime / "tinyproxy.filter").write_text("^deb\\.debian\\.org$\n")
    with (layout.runtime / "tinyproxy.out").open("ab") as out:
        proc = subprocess.Popen(
            [binary, "-d", "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if not wait_until(lambda: _answers(str(GATEWAY), PROXY_PORT), timeout=20):
        proc.kill()
        raise RuntimeError(f"tinyproxy did not listen on {GATEWAY}:{PROXY_PORT}")
    return proc.pid


def proxy_pids(layout: Layout) -> list[int]:
    config = str(layout.runtime / "tinyproxy.conf")
    return [pid for pid, argv in processes() if config in argv]


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
