"""The separate Python environments of the real third-party servers the tests run.

Home Assistant and prometheus-pve-exporter pin versions that conflict with the workspace
(and with each other), so each gets its own venv under .cache/integrations/, named after a
hash of its requirements file: a changed pin makes a new environment, an unchanged one is
reused between runs (Home Assistant takes ~100 s to install from an empty uv cache).

`make test` builds them before pytest (mk/integrations.mk); the session fixtures call the
same function, so a plain `pytest tests/integrations` on a clean clone builds them too.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
REQUIREMENTS = HERE / "requirements"
CACHE = REPO / ".cache" / "integrations"
PYTHON = "3.11"
NAMES = ("homeassistant", "pve")


def env_path(name: str) -> Path:
    requirements = REQUIREMENTS / f"{name}.txt"
    digest = hashlib.sha256(requirements.read_bytes() + PYTHON.encode()).hexdigest()[:12]
    return CACHE / f"{name}-{digest}"


def ensure_env(name: str) -> Path:
    """The venv for `name`, built once per requirements file; returns its folder."""
    if name not in NAMES:
        raise ValueError(f"unknown environment {name!r} (known: {', '.join(NAMES)})")
    root = env_path(name)
    done = root / ".complete"
    if done.exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building it right now
        if done.exists():
            return root
        shutil.rmtree(root, ignore_errors=True)
        uv = shutil.which("uv")
        if uv is None:
            raise RuntimeError("uv is not installed (make bootstrap installs it)")
        subprocess.run([uv, "venv", "--quiet", "--python", PYTHON, str(root)], check=True)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(root / "bin" / "python"),
                "-r",
                str(REQUIREMENTS / f"{name}.txt"),
            ],
            check=True,
        )
        done.touch()
    # Older environments of the same name are stale pins: remove them.
    for old in CACHE.glob(f"{name}-*"):
        if old != root and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return root


if __name__ == "__main__":
    for wanted in sys.argv[1:] or NAMES:
        print(f"integrations: {wanted} environment at {ensure_env(wanted)}")
