"""The simulated Pico W's HTTP server: the firmware core's protocol over real TCP.

Like the board it answers one request per connection, serves at most three connections
at once (a fourth gets 503) and gives each connection three seconds, unless a fault says
otherwise. Use it in-process (``async with PicoSimulator(...)``) or through the CLI and
its control endpoint (:mod:`picotemp.sim.control`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from labkit.listen import ListenAddress
from labkit.logs import get_logger

from picotemp.firmware import core
from picotemp.sim.faults import Fault, FaultState

log = get_logger(__name__)

GARBAGE_BODY = b"\x00\xff<html>not the reading you were looking for"


class PicoSimulator:
    def __init__(self, listen: ListenAddress, sensor: core.Sensor) -> None:
        self.listen = listen
        self.sensor = sensor
        self.state = FaultState()
        self.requests_total = 0
        """Request heads received, whatever was answered: what an upstream counter counts."""
        self.active_connections = 0
        self._server: asyncio.Server | None = None
        self._port = listen.port
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._closing = asyncio.Event()
        self._fault_changed = asyncio.Event()

    @property
    def port(self) -> int:
        """The bound port (useful with port 0); stays the same across down and up."""
        return self._port

    @property
    def address(self) -> ListenAddress:
        return ListenAddress(self.listen.host, self._port)

    @property
    def url(self) -> str:
        return self.address.url + "/"

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        self._closing.clear()
        self._server = await asyncio.start_server(
            self._accept, self.listen.host, self._port, reuse_address=True
        )
        self._port = self._server.sockets[0].getsockname()[1]
        log.info("pico simulator listening", url=self.url)

    async def stop(self) -> None:
        """Stop listening and drop every open connection, like a board losing power."""
        server, self._server = self._server, None
        self._closing.set()
        if server is not None:
            server.close()
        # Abort rather than cancel: the connection tasks see a dead socket and end on
        # their own, as they would if the board lost power.
        for writer in list(self._connections.values()):
            writer.transport.abort()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def set_fault(self, fault: Fault | str, delay_seconds: float | None = None) -> FaultState:
        """Switch to ``fault``; ``down`` stops listening and anything else listens again."""
        fault = Fault(fault)
        delay = self.state.delay_seconds if delay_seconds is None else delay_seconds
        self.state = FaultState(fault, delay)
        self._fault_changed.set()  # releases connections a hang is holding
        self._fault_changed = asyncio.Event()
        log.info("fault set", fault=fault.value, delay_seconds=delay)
        if fault is Fault.DOWN:
            await self.stop()
        else:
            await self.start()
        return self.state

    async def __aenter__(self) -> PicoSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            if self.active_connections >= core.MAX_CONNECTIONS:
                # Read the request first: closing with unread bytes sends RST, and the
                # client would never see the 503.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_read_head(reader), 1)
                writer.write(core.busy_response())
                await writer.drain()
                return
            self.active_connections += 1
            try:
                await self._serve(reader, writer)
            finally:
                self.active_connections -= 1
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self._connections.pop(task, None)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(_read_head(reader), core.CONNECTION_TIMEOUT_SECONDS)
        if not head:
            return
        self.requests_total += 1
        state = self.state
        if state.fault is Fault.HANG:
            await self._hold(reader)
            return
        if state.fault is Fault.RESET:
            sock = writer.get_extra_info("socket")
            # Linger 0: close() sends RST instead of FIN, as a board rebooting mid-request.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        if state.fault is Fault.SLOW and await self._stopped_within(state.delay_seconds):
            return
        if state.fault is Fault.GARBAGE:
            response = core.build_response(200, GARBAGE_BODY)
        elif state.fault is Fault.ERROR:
            response = core.build_response(500, core.error_json("simulated failure"))
        else:
            _, response = core.respond(head, self.sensor)
        writer.write(response)
        await writer.drain()

    async def _hold(self, reader: asyncio.StreamReader) -> None:
        """Say nothing until the client gives up, the fault changes or the simulator
        stops, so hung connections do not keep the three slots forever."""
        waits = [
            asyncio.ensure_future(reader.read()),
            asyncio.ensure_future(self._fault_changed.wait()),
            asyncio.ensure_future(self._closing.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            return False
        return True


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    buffer = b""
    while not core.head_complete(buffer) and len(buffer) <= core.MAX_REQUEST_BYTES:
        chunk = await reader.read(1024)
        if not chunk:
            break
        buffer += chunk
    return buffer
