"""A simulated Shelly Gen2 relay device (Plus 2PM / Pro 2 style: two Switch and two
Input components) on a real HTTP socket, driving a simulated shutter.

Written from Shelly's Gen2 API documentation (shelly-api-docs.shelly.cloud/gen2,
"RPC Channels": POST ``/rpc`` with a JSON-RPC frame, or GET/POST ``/rpc/<Method>`` with
the parameters; the answer frame is ``{"id", "src", "result"}`` or
``{"id", "src", "error": {"code", "message"}}``, and the ``/rpc/<Method>`` forms answer
the result or error alone. "Switch": ``Switch.Set`` (``id``, ``on``, ``toggle_after``)
answers ``{"was_on": bool}``, ``Switch.GetStatus`` answers ``{"id", "source", "output",
"timer_started_at", "timer_duration"}``; "Input": ``Input.GetStatus`` answers
``{"id", "state"}``), not from our client.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from dome.sim.shutter import SimShutterMechanism

ERR_INVALID_ARGUMENT = -103
ERR_NOT_FOUND = 404


class _RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SimShelly:
    """Switch 0 opens, switch 1 closes; input 0 is the open limit, input 1 the closed
    limit (pressed = ``true``). ``run()`` serves on 127.0.0.1 and a free port."""

    def __init__(
        self,
        mechanism: SimShutterMechanism,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.mech = mechanism
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self.output = [False, False]
        self._timer: list[tuple[float, float, float] | None] = [None, None]  # (at, wall, s)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.offline = False
        self._server: ThreadingHTTPServer | None = None

    # --- the device ---------------------------------------------------------------------
    def _expire(self) -> None:
        now = self._clock()
        for i, timer in enumerate(self._timer):
            if timer is not None and now >= timer[0]:
                self.output[i] = not self.output[i]  # toggle_after flips the output
                self._timer[i] = None
        self.mech.set_motor(self.output[0], self.output[1])

    def rpc(self, method: str, params: dict[str, Any]) -> Any:
        with self._lock:
            self.calls.append((method, params))
            self._expire()
            if method == "Switch.Set":
                sid = self._component_id(params, 2)
                on = params.get("on")
                if not isinstance(on, bool):
                    raise _RpcError(ERR_INVALID_ARGUMENT, "on is required and must be a boolean")
                after = params.get("toggle_after")
                was = self.output[sid]
                self.output[sid] = on
                self._timer[sid] = None
                if after is not None:
                    if not isinstance(after, int | float) or after <= 0:
                        raise _RpcError(ERR_INVALID_ARGUMENT, "toggle_after must be positive")
                    self._timer[sid] = (self._clock() + float(after), self._wall(), float(after))
                self.mech.set_motor(self.output[0], self.output[1])
                return {"was_on": was}
            if method == "Switch.GetStatus":
                sid = self._component_id(params, 2)
                out: dict[str, Any] = {"id": sid, "source": "HTTP", "output": self.output[sid]}
                timer = self._timer[sid]
                if timer is not None:
                    out["timer_started_at"] = timer[1]
                    out["timer_duration"] = timer[2]
                return out
            if method == "Input.GetStatus":
                iid = self._component_id(params, 2)
                state = self.mech.open_limit() if iid == 0 else self.mech.closed_limit()
                return {"id": iid, "state": state}
            if method == "Shelly.GetDeviceInfo":
                return {"id": "shellyplus2pm-sim", "model": "SNSW-102P16EU", "gen": 2}
            raise _RpcError(ERR_NOT_FOUND, f"No handler for {method}")

    @staticmethod
    def _component_id(params: dict[str, Any], count: int) -> int:
        cid = params.get("id")
        if isinstance(cid, str) and cid.isdigit():
            cid = int(cid)
        if isinstance(cid, bool) or not isinstance(cid, int) or not 0 <= cid < count:
            raise _RpcError(ERR_INVALID_ARGUMENT, f"id must be 0..{count - 1}")
        return cid

    # --- HTTP -----------------------------------------------------------------------------
    def run(self) -> str:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str | None, params: dict[str, Any], frame_id: Any) -> None:
                if outer.offline:
                    self.send_error(503)
                    return
                try:
                    if method is None:
                        raise _RpcError(ERR_INVALID_ARGUMENT, "method is required")
                    result = outer.rpc(method, params)
                    error = None
                except _RpcError as exc:
                    result, error = None, {"code": exc.code, "message": exc.message}
                if frame_id is None:  # /rpc/<Method>: the result or the error alone
                    self._reply(200 if error is None else 400, error or result)
                    return
                frame: dict[str, Any] = {"id": frame_id, "src": "shellyplus2pm-sim"}
                frame["error" if error else "result"] = error or result
                self._reply(200, frame)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                params: dict[str, Any] = {
                    k: (v == "true" if v in ("true", "false") else v) for k, v in query.items()
                }
                if url.path.startswith("/rpc/"):
                    self._handle(url.path[5:], params, None)
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._reply(400, {"code": ERR_INVALID_ARGUMENT, "message": "bad JSON"})
                    return
                if url.path == "/rpc":
                    self._handle(body.get("method"), body.get("params") or {}, body.get("id"))
                elif url.path.startswith("/rpc/"):
                    self._handle(url.path[5:], body, None)
                else:
                    self.send_error(404)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="sim-shelly", daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
