"""Run playbooks/site.yml on the virtual hosts, showing where it is while it runs.

ansible-playbook's own output goes to a log file whole; the terminal gets one line per
play, per change and per failure (with the host), and a line when a task takes long.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from labctl.progress import Progress, StepError
from labhosts.playbooks import PlaybookRun, ansible_bin

PLAY = re.compile(r"^PLAY \[(?P<name>.*)\] \*+$")
TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(?P<name>.*)\] \*+$")
RESULT = re.compile(r"^(?P<status>changed|fatal|failed): \[(?P<host>[^\]]+)\]")
MESSAGE = re.compile(r'"msg": (?P<msg>"(?:[^"\\]|\\.)*")')
QUIET_SECONDS = 20.0


@dataclass
class ConvergeWatcher:
    """Turns ansible-playbook's output, line by line, into progress lines."""

    progress: Progress
    step: str = "converge"
    task: str = ""
    changed: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    """(host, task, message) of every failed task."""
    last_said: float = field(default_factory=time.monotonic)
    _failing: tuple[str, list[str]] | None = None
    """A failure whose result (JSON over several lines) is still being read: host, lines."""

    def line(self, text: str) -> None:
        if self._failing is not None:
            host, body = self._failing
            body.append(text)
            if text == "}":
                self._failed(host, "\n".join(body))
                self._failing = None
            return
        if match := PLAY.match(text):
            self._say(f"play: {match['name']}")
        elif match := TASK.match(text):
            self.task = match["name"]
        elif match := RESULT.match(text):
            host = match["host"].split(" -> ")[0]
            if match["status"] == "changed":
                self.changed[host] = self.changed.get(host, 0) + 1
                self._say(f"changed: {self.task}", host)
            elif text.endswith("=> {"):
                self._failing = (host, [text])
            else:
                self._failed(host, text)

    def _failed(self, host: str, result: str) -> None:
        found = MESSAGE.search(result)
        message = str(json.loads(found["msg"])) if found else result
        self.failures.append((host, self.task, message))
        self._say(f"FAILED: {self.task}: {(message.splitlines() or [''])[0][:160]}", host)

    def quiet_for(self) -> float:
        return time.monotonic() - self.last_said

    def heartbeat(self) -> None:
        if self.task:
            self._say(f"still at: {self.task}")

    def _say(self, message: str, host: str = "") -> None:
        self.progress.say(self.step, message, host)
        self.last_said = time.monotonic()


def converge(
    root: Path,
    log: Path,
    progress: Progress,
    *,
    inventory: str = "inventory/sandbox",
    extra: tuple[str, ...] = (),
) -> PlaybookRun:
    """Run site.yml; raise StepError naming the host, task and log when it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    watcher = ConvergeWatcher(progress)
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    argv = [ansible_bin("ansible-playbook"), "-i", inventory, "playbooks/site.yml", *extra]
    started = time.monotonic()
    lines: list[str] = []
    with log.open("w") as out:
        proc = subprocess.Popen(
            argv,
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        done = threading.Event()

        def beat() -> None:
            while not done.wait(5):
                if watcher.quiet_for() >= QUIET_SECONDS:
                    watcher.heartbeat()

        beater = threading.Thread(target=beat, daemon=True)
        beater.start()
        assert proc.stdout is not None
        for text in proc.stdout:
            out.write(text)
            out.flush()
            lines.append(text)
            watcher.line(text.rstrip("\n"))
        returncode = proc.wait()
        done.set()
    run = PlaybookRun(returncode, "".join(lines), time.monotonic() - started)
    if returncode != 0:
        if watcher.failures:
            host, task, message = watcher.failures[0]
            raise StepError(
                "converge", f"task '{task}': {message.splitlines()[0]}", host=host, log=log
            )
        tail = " | ".join(line.strip() for line in lines[-5:] if line.strip())
        raise StepError(
            "converge", f"ansible-playbook exited with {returncode}: {tail[-400:]}", log=log
        )
    return run
