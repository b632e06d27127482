"""The Debian bookworm tree every virtual host starts from, built once and cached.

The tree looks like Raspberry Pi OS Lite fresh from Raspberry Pi Imager as far as a
container can: one sudo user ``pi`` (password-less sudo, as the Imager sets up), the
hardware groups (gpio, i2c, spi), and ``/boot/firmware/config.txt`` and ``cmdline.txt``
for the ``raspberry_pi`` role to edit. What a container cannot have (the board model in
``/proc/device-tree``, a real reboot into new kernel parameters) is switched by the
inventory variable ``hardware`` instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from labhosts.layout import LOGIN_USER, Layout
from labhosts.system import run, unmount_below

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# What a fresh Raspberry Pi OS Lite has that the roles and Ansible rely on.
PACKAGES: tuple[str, ...] = (
    "ca-certificates",
    "dbus",
    "iproute2",
    "kmod",
    "less",
    "locales",
    "openssh-server",
    "procps",
    "python3",
    "python3-apt",
    "sudo",
    "systemd",
    "systemd-sysv",
    "tzdata",
    "udev",
)
PI_GROUPS = ("gpio", "i2c", "spi")
# Bump when the customisation below changes, so cached trees are rebuilt.
RECIPE_VERSION = 4

CONFIG_TXT = """\
# For more options and information see
# http://rptl.io/configtxt
dtparam=audio=on
camera_auto_detect=1
display_auto_detect=1
auto_initramfs=1
dtoverlay=vc4-kms-v3d
max_framebuffers=2
disable_fw_kms_setup=1
arm_64bit=1
disable_overscan=1
arm_boost=1

[cm4]
otg_mode=1

[all]
"""
CMDLINE_TXT = (
    "console=serial0,115200 console=tty1 root=PARTUUID=00000000-02 rootfstype=ext4 "
    "fsck.repair=yes rootwait\n"
)


def image_key() -> str:
    """Identify a tree by everything that went into it."""
    recipe = {
        "suite": SUITE,
        "mirror": MIRROR,
        "packages": sorted(PACKAGES),
        "groups": PI_GROUPS,
        "user": LOGIN_USER,
        "version": RECIPE_VERSION,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def ensure_image(layout: Layout, log: Path) -> Path:
    """Return the cached tree, building it with debootstrap first if it is missing."""
    final = layout.images / image_key()
    if final.is_dir():
        return final
    if shutil.which("debootstrap") is None:
        raise FileNotFoundError("debootstrap is not installed (see deps/apt/hosts.txt)")
    layout.images.mkdir(parents=True, exist_ok=True)
    build = layout.images / f".build-{image_key()}-{os.getpid()}"
    try:
        with log.open("ab") as out:
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(PACKAGES)}",
                    SUITE,
                    str(build),
                    MIRROR,
                ],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _customise(build)
        build.rename(final)
    finally:
        if build.exists():
            unmount_below(build)
            shutil.rmtree(build, ignore_errors=True)
    return final


def remove_partial_builds(layout: Layout) -> None:
    """Remove trees an interrupted build left (debootstrap may leave /proc mounted)."""
    if not layout.images.is_dir():
        return
    for build in layout.images.glob(".build-*"):
        unmount_below(build)
        shutil.rmtree(build, ignore_errors=True)


def _customise(root: Path) -> None:
    for group in PI_GROUPS:
        run(["chroot", str(root), "groupadd", "--system", "-f", group])
    run(
        [
            "chroot",
            str(root),
            "useradd",
            "--create-home",
            "--shell",
            "/bin/bash",
            "--groups",
            ",".join(("adm", "dialout", "sudo", "plugdev", "users", *PI_GROUPS)),
            LOGIN_USER,
        ]
    )
    sudoers = root / "etc/sudoers.d/010_pi-nopasswd"
    sudoers.write_text(f"{LOGIN_USER} ALL=(ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    firmware = root / "boot/firmware"
    firmware.mkdir(parents=True, exist_ok=True)
    (firmware / "config.txt").write_text(CONFIG_TXT)
    (firmware / "cmdline.txt").write_text(CMDLINE_TXT)
    # A container has no root file system of its own to remount.
    (root / "etc/systemd/system/systemd-remount-fs.service").symlink_to("/dev/null")
    # Each host gets its own identity when it is created.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("")
    (root / "etc/hostname").write_text("localhost\n")
    # The hosts resolve nothing: an empty resolv.conf makes lookups fail at once
    # instead of waiting for an unreachable name server.
    resolv = root / "etc/resolv.conf"
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    resolv.write_text("# The sandbox has no name server; /etc/hosts names the hosts.\n")
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
