"""The simulator over real TCP on loopback, in-process (one event loop per test)."""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import pytest
from labkit.listen import ListenAddress
from picotemp.firmware import core
from picotemp.sim.faults import Fault
from picotemp.sim.sensor import SimulatedAdc, TemperatureCurve
from picotemp.sim.server import PicoSimulator

GET = b"GET / HTTP/1.1\r\nHost: picotemp\r\n\r\n"


def run_with_sim(
    body: Callable[[PicoSimulator], Awaitable[None]], base: float = 23.4
) -> PicoSimulator:
    async def main() -> PicoSimulator:
        sensor = core.Sensor(SimulatedAdc(TemperatureCurve(base, 0.0, 600.0)))
        async with PicoSimulator(ListenAddress("127.0.0.1", 0), sensor) as sim:
            await asyncio.wait_for(body(sim), 20)
        return sim

    return asyncio.run(main())


async def exchange(sim: PicoSimulator, request: bytes = GET) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), headers, body


def test_answers_the_curve_temperature_as_the_firmware_does() -> None:
    async def body(sim: PicoSimulator) -> None:
        status, headers, payload = await exchange(sim)
        assert status == 200
        assert int(headers["Content-Length"]) == len(payload)
        reading = json.loads(payload)
        assert reading["tempC"] == pytest.approx(31.7, abs=0.05)
        assert reading["tempF"] == pytest.approx(31.7 * 1.8 + 32, abs=0.1)

    sim = run_with_sim(body, base=31.7)
    assert sim.requests_total == 1


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [(b"GET /x HTTP/1.1\r\n\r\n", 404), (b"POST / HTTP/1.1\r\n\r\n", 405), (b"hello\r\n\r\n", 400)],
)
def test_protocol_errors_come_from_the_core(request_bytes: bytes, status: int) -> None:
    async def body(sim: PicoSimulator) -> None:
        got, _, _ = await exchange(sim, request_bytes)
        assert got == status

    run_with_sim(body)


def test_fourth_connection_is_turned_away_while_three_are_busy() -> None:
    async def body(sim: PicoSimulator) -> None:
        await sim.set_fault(Fault.HANG)
        held = [await asyncio.open_connection("127.0.0.1", sim.port) for _ in range(3)]
        for _, writer in held:
            writer.write(GET)
        while sim.active_connections < 3:  # noqa: ASYNC110 - polling the simulator's counter
            await asyncio.sleep(0.01)
        status, headers, _ = await exchange(sim)
        assert (status, headers["Retry-After"]) == (503, "1")
        for _, writer in held:
            writer.close()

    sim = run_with_sim(body)
    assert sim.requests_total == 3


def test_slow_answers_after_the_delay() -> None:
    async def body(sim: PicoSimulator) -> None:
        await sim.set_fault("slow", delay_seconds=0.4)
        started = time.monotonic()
        status, _, payload = await exchange(sim)
        assert time.monotonic() - started >= 0.4
        assert status == 200
        assert "tempC" in json.loads(payload)

    run_with_sim(body)


def test_hang_never_answers() -> None:
    async def body(sim: PicoSimulator) -> None:
        await sim.set_fault("hang")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(exchange(sim), 0.5)

    run_with_sim(body)


def test_hung_connections_are_released_when_clients_leave_or_the_fault_clears() -> None:
    async def body(sim: PicoSimulator) -> None:
        await sim.set_fault("hang")
        for _ in range(3):  # more hung clients than slots, one after the other
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(exchange(sim), 0.3)
        while sim.active_connections:  # noqa: ASYNC110 - polling the simulator's counter
            await asyncio.sleep(0.01)
        held = [await asyncio.open_connection("127.0.0.1", sim.port) for _ in range(3)]
        for _, writer in held:
            writer.write(GET)
        while sim.active_connections < 3:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await sim.set_fault("none")
        while sim.active_connections:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        status, _, _ = await exchange(sim)
        assert status == 200
        for _, writer in held:
            writer.close()

    run_with_sim(body)


def test_garbage_is_a_200_that_is_not_json() -> None:
    async def body(sim: PicoSimulator) -> None:
        await sim.set_fault("garbage")
        status, _, payload = await exchange(sim)
        assert status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(payload)

    run_with_sim(body)


def test_error_is_http_500() -> None:
    async def body(sim: PicoSimulator) -> None:
        await sim.set_fault("error")
        status, _, _ = await exchange(sim)
        assert status == 500

    run_with_sim(body)


def test_reset_resets_the_connection() -> None:
    async def body(sim: PicoSimulator) -> None:
        await sim.set_fault("reset")
        with pytest.raises(ConnectionResetError):
            await exchange(sim)

    sim = run_with_sim(body)
    assert sim.requests_total == 1


def test_down_refuses_connections_until_the_fault_is_cleared() -> None:
    async def body(sim: PicoSimulator) -> None:
        port = sim.port
        await sim.set_fault("down")
        assert not sim.listening
        with pytest.raises(ConnectionRefusedError):
            await exchange(sim)
        await sim.set_fault("none")
        assert sim.port == port
        status, _, _ = await exchange(sim)
        assert status == 200

    sim = run_with_sim(body)
    assert sim.requests_total == 1


def test_requests_are_counted_whatever_the_answer() -> None:
    async def body(sim: PicoSimulator) -> None:
        for fault in ("none", "error", "garbage"):
            await sim.set_fault(fault)
            await exchange(sim)
        await exchange(sim, b"GET /nope HTTP/1.1\r\n\r\n")

    assert run_with_sim(body).requests_total == 4


def test_unknown_fault_is_refused_and_changes_nothing() -> None:
    async def body(sim: PicoSimulator) -> None:
        await sim.set_fault("error")
        with pytest.raises(ValueError, match="sideways"):
            await sim.set_fault("sideways")
        assert sim.state.fault is Fault.ERROR

    run_with_sim(body)
