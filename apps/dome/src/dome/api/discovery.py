"""Alpaca UDP discovery: answer ``alpacadiscovery1`` with ``{"AlpacaPort": n}``."""

from __future__ import annotations

import asyncio
import json
from typing import cast

from dome.api.alpaca import client_allowed
from labkit.logs import get_logger

log = get_logger(__name__)
DISCOVERY_MESSAGE = b"alpacadiscovery1"


class DiscoveryProtocol(asyncio.DatagramProtocol):
    def __init__(self, alpaca_port: int, networks: list[str]) -> None:
        self._reply = json.dumps({"AlpacaPort": alpaca_port}).encode()
        self._networks = networks
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport is not a subclass of asyncio's, hence the cast
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        host = str(addr[0])
        if not data.startswith(DISCOVERY_MESSAGE) or not client_allowed(host, self._networks):
            return
        if self.transport is not None:
            self.transport.sendto(self._reply, addr)


async def start_discovery(
    host: str, port: int, alpaca_port: int, networks: list[str]
) -> asyncio.DatagramTransport:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: DiscoveryProtocol(alpaca_port, networks), local_addr=(host, port), reuse_port=True
    )
    log.info("alpaca discovery listening", host=host, port=port)
    return transport
