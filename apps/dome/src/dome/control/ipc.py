"""The local protocol between the API process and the control process.

One JSON object per line over a Unix stream socket. A request is ``{"op": NAME, "args":
{...}}``; the answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error":
KIND, "message": TEXT}`` where KIND names a domain exception (:mod:`dome.core.errors`).
The socket is the only way in: its file mode (0660) decides who may command the dome.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dome.core import errors
from labkit.logs import get_logger

log = get_logger(__name__)

Handler = Callable[[dict[str, Any]], Any]
MAX_LINE = 64 * 1024


class IpcServer:
    """Serve ``handlers[op](args)`` on ``path``, one thread per connection."""

    def __init__(self, path: Path, handlers: dict[str, Handler]) -> None:
        self.path = path
        self._handlers = handlers
        outer = self

        class _Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while True:
                    line = self.rfile.readline(MAX_LINE)
                    if not line:
                        return
                    reply = outer.dispatch(line)
                    self.wfile.write(json.dumps(reply).encode() + b"\n")
                    self.wfile.flush()

        class _Server(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True
            request_queue_size = 64

        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._server = _Server(str(path), _Handler)
        os.chmod(path, 0o660)
        self._thread = threading.Thread(target=self._server.serve_forever, name="ipc", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def dispatch(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise ValueError("request must be an object with an 'op' string")
            args = request.get("args") or {}
            if not isinstance(args, dict):
                raise ValueError("'args' must be an object")
            handler = self._handlers.get(request["op"])
            if handler is None:
                raise ValueError(f"unknown op {request['op']!r}")
            return {"ok": True, "result": handler(args)}
        except errors.DomeError as exc:
            return {"ok": False, "error": type(exc).__name__, "message": str(exc)}
        except (ValueError, TypeError, KeyError) as exc:
            return {"ok": False, "error": "InvalidValueError", "message": str(exc)}
        except Exception as exc:
            log.error("ipc handler failed", error=repr(exc))
            return {"ok": False, "error": "DomeError", "message": f"internal error: {exc}"}


def _raise_for(reply: dict[str, Any]) -> Any:
    if reply.get("ok"):
        return reply.get("result")
    kind = getattr(errors, str(reply.get("error")), errors.DomeError)
    if not (isinstance(kind, type) and issubclass(kind, errors.DomeError)):
        kind = errors.DomeError
    raise kind(str(reply.get("message")))


class IpcClient:
    """Blocking client (CLI, tests, benchmarks): one persistent connection."""

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self._path = path
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._file: Any = None
        self._lock = threading.Lock()

    def call(self, op: str, **args: Any) -> Any:
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self._sock.settimeout(self._timeout)
                    self._sock.connect(str(self._path))
                    self._file = self._sock.makefile("rwb")
                self._file.write(json.dumps({"op": op, "args": args}).encode() + b"\n")
                self._file.flush()
                line = self._file.readline(MAX_LINE)
                if not line:
                    raise ConnectionError("control process closed the connection")
            except OSError as exc:
                self.close()
                raise errors.NotConnectedError(f"control process unreachable: {exc}") from None
            return _raise_for(json.loads(line))

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None
        self._file = None


class AsyncIpcClient:
    """The API's client: a small pool of connections, so slow calls do not queue reads."""

    SHARED = frozenset({"status", "loop_stats"})

    def __init__(self, path: Path, timeout: float = 5.0, pool: int = 8) -> None:
        self._path = path
        self._timeout = timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._pool = pool
        self._slots: asyncio.Semaphore | None = None
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    async def call(self, op: str, **args: Any) -> Any:
        # a read asked for while the same read is on its way shares its answer: a burst
        # of status reads costs the control process one call, not one each
        if op in self.SHARED and not args:
            pending = self._inflight.get(op)
            if pending is None:
                pending = asyncio.ensure_future(self._limited(op, args))
                self._inflight[op] = pending
                pending.add_done_callback(lambda _: self._inflight.pop(op, None))
            return await asyncio.shield(pending)
        return await self._limited(op, args)

    async def _limited(self, op: str, args: dict[str, Any]) -> Any:
        # at most `pool` connections: a burst of requests queues here, not in the
        # control process's accept backlog
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._pool)
        async with self._slots:
            return await self._call(op, args)

    async def _call(self, op: str, args: dict[str, Any]) -> Any:
        conn = self._idle.pop() if self._idle else None
        try:
            if conn is None:
                conn = await asyncio.wait_for(
                    asyncio.open_unix_connection(str(self._path), limit=MAX_LINE), self._timeout
                )
            reader, writer = conn
            writer.write(json.dumps({"op": op, "args": args}).encode() + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), self._timeout)
            if not line:
                raise ConnectionError("control process closed the connection")
        except (OSError, TimeoutError) as exc:
            if conn is not None:
                conn[1].close()
            raise errors.NotConnectedError(
                f"control process unreachable: {exc or 'timeout'}"
            ) from None
        if len(self._idle) < self._pool:
            self._idle.append(conn)
        else:
            conn[1].close()
        return _raise_for(json.loads(line))

    async def close(self) -> None:
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()
