"""The firmware core under CPython. Expectations come from the RP2040 datasheet formula and
an independent HTTP parser (http.client), not from copies of the core's output."""

import io
import json
import math
from http.client import HTTPResponse

import pytest
from hypothesis import given
from hypothesis import strategies as st
from picotemp.firmware import core


class ListAdc(core.Adc):
    """Replays raw readings and counts how often it was read."""

    def __init__(self, values: list[int]) -> None:
        self.values = values
        self.reads = 0

    def read_u16(self) -> int:
        value = self.values[self.reads % len(self.values)]
        self.reads += 1
        return value


def datasheet_celsius(raw: float) -> float:
    volts = raw * 3.3 / 65535
    return 27 - (volts - 0.706) / 0.001721


def parse_http(raw: bytes) -> HTTPResponse:
    class _Sock:
        def makefile(self, mode: str) -> io.BytesIO:
            return io.BytesIO(raw)

    response = HTTPResponse(_Sock())  # type: ignore[arg-type]
    response.begin()
    return response


@given(st.integers(min_value=0, max_value=65535))
def test_raw_reading_converts_by_the_datasheet_formula(raw: int) -> None:
    assert core.volts_to_celsius(core.raw_to_volts(raw)) == pytest.approx(datasheet_celsius(raw))


def test_sensor_voltage_at_27_degrees_reads_27() -> None:
    assert core.volts_to_celsius(0.706) == pytest.approx(27)
    # 1.721 mV less is one degree warmer: the sensor's slope is negative.
    assert core.volts_to_celsius(0.706 - 0.001721) == pytest.approx(28)


@pytest.mark.parametrize(("celsius", "fahrenheit"), [(0, 32), (100, 212), (-40, -40), (37, 98.6)])
def test_fahrenheit_fixed_points(celsius: float, fahrenheit: float) -> None:
    assert core.celsius_to_fahrenheit(celsius) == pytest.approx(fahrenheit)


@given(st.lists(st.integers(min_value=0, max_value=65535), min_size=1, max_size=64))
def test_average_is_the_conversion_of_the_mean_reading(raws: list[int]) -> None:
    assert core.average_celsius(raws) == pytest.approx(datasheet_celsius(sum(raws) / len(raws)))


@pytest.mark.parametrize("raws", [[], [-1], [65536], [100, 70000]])
def test_unusable_samples_raise_sensor_error(raws: list[int]) -> None:
    with pytest.raises(core.SensorError):
        core.average_celsius(raws)


def test_sensor_reads_the_adc_once_per_sample_and_averages() -> None:
    adc = ListAdc([14000, 14100, 14200, 14300])
    assert core.Sensor(adc, samples=8).read_celsius() == pytest.approx(datasheet_celsius(14150))
    assert adc.reads == 8


def test_sensor_refuses_zero_samples() -> None:
    with pytest.raises(ValueError, match="samples"):
        core.Sensor(ListAdc([1]), samples=0)


@pytest.mark.parametrize(
    ("head", "method", "path"),
    [
        (b"GET / HTTP/1.1\r\nHost: picotemp\r\n\r\n", "GET", "/"),
        (b"GET /?fresh=1 HTTP/1.0\r\n\r\n", "GET", "/"),
        (b"POST /metrics HTTP/1.1\r\n\r\n", "POST", "/metrics"),
        (b"GET / HTTP/1.1\n\n", "GET", "/"),
    ],
)
def test_parse_request_line(head: bytes, method: str, path: str) -> None:
    request = core.parse_request(head)
    assert (request.method, request.path) == (method, path)


@pytest.mark.parametrize(
    ("head", "complaint"),
    [
        (b"", "malformed request line"),
        (b"GET /\r\n\r\n", "malformed request line"),
        (b"GET  / HTTP/1.1\r\n\r\n", "malformed request line"),
        (b"get / HTTP/1.1\r\n\r\n", "malformed method"),
        (b"GET / HTTP/2.0\r\n\r\n", "unsupported protocol"),
        (b"GET http://x/ HTTP/1.1\r\n\r\n", "must start with '/'"),
        ("GET /\u00e9 HTTP/1.1\r\n\r\n".encode(), "not ASCII"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * core.MAX_REQUEST_BYTES + b"\r\n\r\n", "longer than"),
    ],
)
def test_parse_request_rejects_what_is_not_http(head: bytes, complaint: str) -> None:
    with pytest.raises(core.BadRequestError, match=complaint):
        core.parse_request(head)


def test_head_complete_needs_the_blank_line() -> None:
    assert not core.head_complete(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert core.head_complete(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_get_root_answers_the_averaged_reading_as_json() -> None:
    raws = [14000, 14200]
    adc = ListAdc(raws)
    status, raw = core.respond(b"GET / HTTP/1.1\r\n\r\n", core.Sensor(adc, samples=2))
    response = parse_http(raw)
    body = response.read()
    assert status == response.status == 200
    assert response.getheader("Content-Type") == "application/json"
    assert int(response.getheader("Content-Length") or -1) == len(body)
    assert response.getheader("Connection") == "close"
    reading = json.loads(body)
    expected_c = datasheet_celsius(sum(raws) / 2)
    assert set(reading) == {"tempC", "tempF"}
    assert reading["tempC"] == pytest.approx(expected_c, abs=0.005)
    assert reading["tempF"] == pytest.approx(expected_c * 1.8 + 32, abs=0.005)


@pytest.mark.parametrize(
    ("head", "status", "allow"),
    [
        (b"GET /metrics HTTP/1.1\r\n\r\n", 404, None),
        (b"POST / HTTP/1.1\r\n\r\n", 405, "GET"),
        (b"DELETE / HTTP/1.1\r\n\r\n", 405, "GET"),
        (b"nonsense\r\n\r\n", 400, None),
    ],
)
def test_other_requests_get_errors_without_reading_the_sensor(
    head: bytes, status: int, allow: str | None
) -> None:
    adc = ListAdc([14000])
    got, raw = core.respond(head, core.Sensor(adc))
    response = parse_http(raw)
    assert got == response.status == status
    assert response.getheader("Allow") == allow
    assert "error" in json.loads(response.read())
    assert adc.reads == 0


def test_a_failing_sensor_answers_500() -> None:
    status, raw = core.respond(b"GET / HTTP/1.1\r\n\r\n", core.Sensor(ListAdc([70000])))
    response = parse_http(raw)
    assert status == response.status == 500
    assert "70000" in json.loads(response.read())["error"]


def test_busy_response_asks_to_retry() -> None:
    response = parse_http(core.busy_response())
    assert response.status == 503
    assert response.getheader("Retry-After") == "1"


def test_error_json_escapes_quotes() -> None:
    message = 'bad "thing" \\ here'
    assert json.loads(core.error_json(message)) == {"error": message}


@given(st.floats(min_value=-60, max_value=150))
def test_reading_json_round_trips_to_two_decimals(celsius: float) -> None:
    reading = json.loads(core.reading_json(celsius))
    assert reading["tempC"] == pytest.approx(celsius, abs=0.0051)
    assert math.isclose(reading["tempF"], celsius * 9 / 5 + 32, abs_tol=0.0051)
