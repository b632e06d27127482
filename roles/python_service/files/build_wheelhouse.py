#!/usr/bin/env python3
"""Build an app's wheelhouse on the controller, from the workspace's locked dependencies.

Runs on the Ansible controller (delegated to localhost), never on a managed host:

    build_wheelhouse.py --workspace DIR --package NAME [--extra NAME ...] \
        --arch x86_64|aarch64 --out DIR

The result is one deterministic archive ``NAME-ARCH-KEY.tar`` holding every wheel, a
``requirements.txt`` that pins them all and ``manifest.json``. KEY hashes ``uv.lock`` and
the workspace sources, so an unchanged workspace gives the same file and Ansible copies
nothing. Third-party wheels come from the lock (hashes checked) for the host's platform, so
hosts install offline and identically. A dependency published only as source is built here
when it is pure Python (a pure wheel fits every platform); otherwise its source goes into
the archive and ``manifest.json`` lists it, so the role installs build tools on the host.
Environment markers (``lgpio; platform_machine == 'aarch64'``) are evaluated for the host,
not for this machine: pip would judge them by the controller's own platform.
Prints one JSON object: {"built": bool, "archive": path, "host_build": [names]}.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PYTHON_VERSION = "3.11"
REPRODUCIBLE_EPOCH = "315532800"  # 1980-01-01, the earliest date a zip can hold
NO_WHEEL = re.compile(r"No matching distribution found for ([A-Za-z0-9_.\-]+)")
ABIS = ("cp311", "abi3", "none")
# Debian bookworm has glibc 2.36; any manylinux tag up to it fits.
GLIBC_MINORS = range(17, 37)


def platform_tags(arch: str) -> list[str]:
    tags = [f"manylinux_2_{minor}_{arch}" for minor in GLIBC_MINORS]
    return [*tags, f"manylinux2014_{arch}", f"linux_{arch}", "any"]


def source_key(workspace: Path, members: list[Path], arch: str) -> str:
    digest = hashlib.sha256(f"{arch}\n".encode())
    digest.update((workspace / "uv.lock").read_bytes())
    for member in sorted(members):
        for path in sorted(member.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and "tests" not in path.parts:
                digest.update(str(path.relative_to(workspace)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# The host's environment for markers: Debian bookworm's CPython 3.11 on Linux.
def target_environment(arch: str) -> dict[str, str]:
    return {
        "implementation_name": "cpython",
        "implementation_version": "3.11.2",
        "os_name": "posix",
        "platform_machine": arch,
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "python_full_version": "3.11.2",
        "python_version": PYTHON_VERSION,
        "sys_platform": "linux",
    }


def _marker_class() -> Any:
    try:
        from packaging.markers import Marker
    except ImportError:  # pip vendors packaging; the workspace venv has it anyway
        from pip._vendor.packaging.markers import Marker
    return Marker


def for_target(blocks: list[str], arch: str) -> list[str]:
    """Keep the requirements whose marker holds on the host, without their markers."""
    marker_class = _marker_class()
    environment = target_environment(arch)
    kept = []
    for block in blocks:
        first, _, rest = block.partition("\n")
        requirement = first.rstrip(" \\")
        if ";" not in requirement:
            kept.append(block)
            continue
        spec, marker = (part.strip() for part in requirement.split(";", 1))
        if marker_class(marker).evaluate(environment):
            continuation = " \\" if first.rstrip().endswith("\\") else ""
            kept.append(f"{spec}{continuation}\n{rest}")
    return kept


def uv_export(workspace: Path, package: str, *extra: str) -> list[str]:
    done = subprocess.run(
        ["uv", "export", "--frozen", "--no-dev", "--no-header", "--package", package, *extra],
        cwd=workspace,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def workspace_members(workspace: Path, package: str) -> list[Path]:
    lines = uv_export(workspace, package, "--only-emit-workspace", "--no-hashes")
    members = []
    for line in lines:
        entry = line.strip().removeprefix("-e").strip()
        if entry.startswith("./") or entry == ".":
            members.append((workspace / entry).resolve())
    return members


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    # A fixed SOURCE_DATE_EPOCH makes wheels built from source byte-identical every time.
    env = {**os.environ, "SOURCE_DATE_EPOCH": REPRODUCIBLE_EPOCH}
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def download_wheels(requirements: Path, arch: str, dest: Path) -> list[str]:
    """Download binary wheels for the host; return the requirements only sources exist for."""
    binary_flags = ["--only-binary=:all:", "--python-version", PYTHON_VERSION]
    binary_flags += ["--implementation", "cp"]
    for tag in platform_tags(arch):
        binary_flags += ["--platform", tag]
    for abi in ABIS:
        binary_flags += ["--abi", abi]
    blocks = for_target(_requirement_blocks(requirements.read_text()), arch)
    source_only: list[str] = []
    pending = dest / "pending.txt"
    while blocks:
        pending.write_text("".join(blocks))
        done = pip("download", "--no-deps", "-d", str(dest), *binary_flags, "-r", str(pending))
        if done.returncode == 0:
            break
        # pip names the first requirement without a fitting wheel; set it aside and retry.
        missing = NO_WHEEL.search(done.stderr)
        name = _project(missing[1]) if missing else None
        without = [b for b in blocks if _project(b.split("==", 1)[0].strip()) != name]
        if missing is None or len(without) == len(blocks):
            raise RuntimeError(f"pip download failed: {done.stderr.strip()[-2000:]}")
        source_only += [b for b in blocks if b not in without]
        blocks = without
    pending.unlink(missing_ok=True)
    return source_only


def _requirement_blocks(text: str) -> list[str]:
    """Split an exported requirements file into one block per requirement (hash lines kept)."""
    blocks: list[str] = []
    current = ""
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" ") and current:
            blocks.append(current)
            current = ""
        current += line + "\n"
    if current:
        blocks.append(current)
    return blocks


def build_from_source(block: str, work: Path, dest: Path) -> tuple[str, bool]:
    """Build a source-only requirement; keep the wheel if pure, else keep the source."""
    name = block.split("==", 1)[0].strip()
    req = work / "source.txt"
    req.write_text(block)
    sdists = work / "sdists"
    sdists.mkdir(exist_ok=True)
    done = pip("download", "--no-deps", "--no-binary=:all:", "-d", str(sdists), "-r", str(req))
    if done.returncode:
        raise RuntimeError(f"cannot download {name}: {done.stderr.strip()}")
    sdist = next(p for p in sdists.iterdir() if _project(p.name) == _project(name))
    built = work / "built"
    done = pip("wheel", "--no-deps", "-w", str(built), str(sdist))
    wheel = next(built.glob("*.whl"), None) if done.returncode == 0 else None
    if wheel is not None and wheel.name.endswith("-none-any.whl"):
        wheel.rename(dest / wheel.name)
        return name, False
    if wheel is not None:
        wheel.unlink()
    sdist.rename(dest / sdist.name)
    return name, True


def _project(filename: str) -> str:
    return filename.split("-")[0].replace("_", "-").replace(".", "-").lower()


def pinned_names(wheelhouse: Path) -> list[str]:
    pins = set()
    for artifact in wheelhouse.iterdir():
        if artifact.suffix == ".whl":
            name, version = artifact.name.split("-")[:2]
        elif artifact.name.endswith(".tar.gz"):
            name, version = artifact.name.removesuffix(".tar.gz").rsplit("-", 1)
        else:
            continue
        pins.add(f"{name.replace('_', '-').lower()}=={version}")
    return sorted(pins)


def write_archive(source: Path, target: Path) -> None:
    """A tar whose bytes depend only on the files' names and contents."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(source.iterdir()):
            if not path.name.endswith((".whl", ".tar.gz", ".txt", ".json")):
                continue  # e.g. the .gitignore that `uv build -o` writes
            info = tarfile.TarInfo(path.name)
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(buffer.getvalue())
    tmp.rename(target)


def build(
    workspace: Path, package: str, arch: str, out: Path, extras: list[str] | None = None
) -> dict[str, object]:
    members = workspace_members(workspace, package)
    if not members:
        raise RuntimeError(f"{package!r} is not a member of the workspace at {workspace}")
    extras = sorted(set(extras or []))
    extra_flags = [flag for name in extras for flag in ("--extra", name)]
    key = source_key(workspace, members, f"{arch} {' '.join(extras)}")
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"{package}-{arch}-{key}.tar"
    manifest_path = out / f"{package}-{arch}-{key}.json"
    # Several hosts ask at once; one builds, the others find the result.
    with (out / f".{package}-{arch}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if archive.exists() and manifest_path.exists():
            manifest = json.loads(manifest_path.read_text())
            return {"built": False, "archive": str(archive), **manifest}
        with tempfile.TemporaryDirectory(prefix="wheelhouse-") as tmp:
            work = Path(tmp)
            wheels = work / "wheelhouse"
            wheels.mkdir()
            requirements = work / "locked.txt"
            requirements.write_text(
                "\n".join(uv_export(workspace, package, "--no-emit-workspace", *extra_flags)) + "\n"
            )
            for member in members:
                subprocess.run(
                    ["uv", "build", "--wheel", "--quiet", "-o", str(wheels), str(member)],
                    cwd=workspace,
                    check=True,
                    capture_output=True,
                )
            host_build = []
            for block in download_wheels(requirements, arch, wheels):
                name, on_host = build_from_source(block, work, wheels)
                if on_host:
                    host_build.append(name)
            manifest = {
                "package": package,
                "arch": arch,
                "extras": extras,
                "host_build": sorted(host_build),
            }
            (wheels / "requirements.txt").write_text("\n".join(pinned_names(wheels)) + "\n")
            (wheels / "manifest.json").write_text(json.dumps(manifest, sort_keys=True) + "\n")
            write_archive(wheels, archive)
            manifest_path.write_text(json.dumps(manifest, sort_keys=True) + "\n")
    return {"built": True, "archive": str(archive), **manifest}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--package", required=True)
    parser.add_argument("--extra", action="append", default=[], help="optional dependencies")
    parser.add_argument("--arch", required=True, choices=("x86_64", "aarch64"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    try:
        result = build(
            args.workspace.resolve(), args.package, args.arch, args.out.resolve(), args.extra
        )
    except (RuntimeError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        print(f"build_wheelhouse: {error} {detail}".strip(), file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
