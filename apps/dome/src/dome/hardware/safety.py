"""Safety sources: a rain sensor on GPIO, or an ASCOM Alpaca SafetyMonitor (alpyca)."""

from __future__ import annotations

from alpaca.safetymonitor import SafetyMonitor as AlpacaSafetyMonitorClient

from dome.core.ports import DigitalInput


class RainSensor:
    """Safe while the rain input is not active (the AZDelivery/FC-37 raindrops module
    pulls its DO low when wet: ``active_low``)."""

    def __init__(self, rain: DigitalInput) -> None:
        self._rain = rain
        self.name = "rain sensor"

    def is_safe(self) -> bool:
        return not self._rain.active()

    def close(self) -> None:
        self._rain.close()


class AlpacaSafetyMonitor:
    """``IsSafe`` of an ASCOM Alpaca SafetyMonitor; connects on first use and again after
    any failure (a restarted monitor forgets its clients)."""

    def __init__(self, address: str, device_number: int = 0) -> None:
        self.name = f"Alpaca SafetyMonitor {address}/{device_number}"
        self._client = AlpacaSafetyMonitorClient(address, device_number)
        self._connected = False

    def is_safe(self) -> bool:
        try:
            if not self._connected:
                self._client.Connected = True
                self._connected = True
            return bool(self._client.IsSafe)
        except Exception:
            self._connected = False
            raise

    def close(self) -> None:
        pass
