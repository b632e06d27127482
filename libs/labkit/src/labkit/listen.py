"""The ``HOST:PORT`` address a service listens on."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer
from pydantic_settings import NoDecode


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> ListenAddress:
        """Parse ``HOST:PORT``, ``[IPv6]:PORT`` or ``:PORT`` (all interfaces).

        >>> ListenAddress.parse("[::1]:8080")
        ListenAddress(host='::1', port=8080)
        """
        text = text.strip()
        host, sep, port_text = text.rpartition(":")
        if not sep or not port_text:
            raise ValueError(f"expected HOST:PORT, got {text!r}")
        if host.startswith("["):
            if not host.endswith("]"):
                raise ValueError(f"unclosed '[' in {text!r}")
            host = host[1:-1]
            ipaddress.IPv6Address(host)  # raises ValueError naming the bad address
        elif ":" in host:
            raise ValueError(f"an IPv6 address must be in brackets, like [::1]:80, got {text!r}")
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ValueError(f"port must be a number from 0 to 65535, got {port_text!r}")
        return cls(host or "0.0.0.0", int(port_text))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The ``http://`` URL a client on this machine uses to reach the address."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"


def _coerce(value: Any) -> ListenAddress:
    if isinstance(value, ListenAddress):
        return value
    if isinstance(value, str):
        return ListenAddress.parse(value)
    raise ValueError(f"expected a HOST:PORT string, got {type(value).__name__}")


# NoDecode: pydantic-settings treats a dataclass field as "complex" and would JSON-decode
# the environment value ("127.0.0.1:3030" is not JSON) before our validator sees it.
Listen = Annotated[
    ListenAddress, NoDecode, BeforeValidator(_coerce), PlainSerializer(str, return_type=str)
]
"""A settings field type: ``listen: Listen = ListenAddress.parse("0.0.0.0:3030")``."""
