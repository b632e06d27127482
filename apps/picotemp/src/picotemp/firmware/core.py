"""The Pico W firmware's core: sensor conversion, request parsing, response building.

This file runs unchanged on three interpreters: MicroPython on the board (copied there as
``core.py`` and imported by ``main.py``), CPython (as ``picotemp.firmware.core``, by the
simulator and the tests) and the MicroPython WebAssembly build (by the tests). So it uses
only what all three have: no ``typing``, no ``__future__``, no ``json``/``re`` (absent or
different on small ports), no dataclasses; annotations are never evaluated by MicroPython
and only name builtins or classes defined here.
"""

VERSION = "1.0.0"

# The RP2040's ADC is 12 bits, but machine.ADC.read_u16() scales every reading to 16 bits.
ADC_MAX = 65535
ADC_VREF_VOLTS = 3.3
# RP2040 datasheet, section 4.9.5: T = 27 - (ADC_voltage - 0.706) / 0.001721.
SENSOR_VOLTS_AT_27C = 0.706
SENSOR_VOLTS_PER_DEGREE = 0.001721
# One reading is noisy by a few tenths of a degree; the mean of 16 is steady.
SAMPLES = 16

MAX_CONNECTIONS = 3
CONNECTION_TIMEOUT_SECONDS = 3
# A request line and a few headers; anything longer is not a client we serve.
MAX_REQUEST_BYTES = 2048

PORT = 80
HOSTNAME = "picotemp"

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class BadRequestError(ValueError):
    """The bytes a client sent are not an HTTP/1.x request we can parse."""


class SensorError(Exception):
    """The sensor gave nothing usable (no samples, or a reading out of the ADC's range)."""


def raw_to_volts(raw: int) -> float:
    if raw < 0 or raw > ADC_MAX:
        raise SensorError("ADC reading %d outside 0..%d" % (raw, ADC_MAX))
    return raw * ADC_VREF_VOLTS / ADC_MAX


def volts_to_celsius(volts: float) -> float:
    return 27 - (volts - SENSOR_VOLTS_AT_27C) / SENSOR_VOLTS_PER_DEGREE


def celsius_to_fahrenheit(celsius: float) -> float:
    return celsius * 9 / 5 + 32


def average_celsius(raws: list[int]) -> float:
    """Temperature from several raw ADC readings: the mean voltage, then converted once."""
    if not raws:
        raise SensorError("no ADC samples")
    total = 0.0
    for raw in raws:
        total += raw_to_volts(raw)
    return volts_to_celsius(total / len(raws))


class Adc:
    """Anything with ``read_u16()``: ``machine.ADC(4)`` on the board, a simulated ADC elsewhere."""

    def read_u16(self) -> int:
        raise NotImplementedError


class Sensor:
    """The RP2040 internal temperature sensor behind an ADC channel."""

    def __init__(self, adc: Adc, samples: int = SAMPLES) -> None:
        if samples < 1:
            raise ValueError("samples must be at least 1, got %d" % samples)
        self.adc = adc
        self.samples = samples

    def read_celsius(self) -> float:
        return average_celsius([self.adc.read_u16() for _ in range(self.samples)])


class Request:
    def __init__(self, method: str, path: str, version: str) -> None:
        self.method = method
        self.path = path
        self.version = version


def head_complete(buffer: bytes) -> bool:
    """True once ``buffer`` holds the whole request head (the blank line after the headers)."""
    return b"\r\n\r\n" in buffer or b"\n\n" in buffer


def parse_request(head: bytes) -> Request:
    """Parse the request line; headers are not needed to answer and are ignored."""
    if len(head) > MAX_REQUEST_BYTES:
        raise BadRequestError("request head longer than %d bytes" % MAX_REQUEST_BYTES)
    end = head.find(b"\n")
    line = head if end < 0 else head[:end]
    try:
        text = line.decode("ascii").strip()
    except UnicodeError:
        raise BadRequestError("request line is not ASCII") from None
    parts = text.split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise BadRequestError("malformed request line %r" % text)
    method, target, version = parts
    if not method.isalpha() or not method.isupper():
        raise BadRequestError("malformed method %r" % method)
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise BadRequestError("unsupported protocol %r" % version)
    if not target.startswith("/"):
        raise BadRequestError("request target must start with '/', got %r" % target)
    path = target.split("?", 1)[0]
    return Request(method, path, version)


def reading_json(celsius: float) -> bytes:
    """The body of ``GET /``, two decimals so every interpreter writes the same bytes."""
    fahrenheit = celsius_to_fahrenheit(celsius)
    return ('{"tempC": %.2f, "tempF": %.2f}' % (celsius, fahrenheit)).encode()


def error_json(message: str) -> bytes:
    safe = message.replace("\\", "\\\\").replace('"', '\\"')
    return ('{"error": "%s"}' % safe).encode()


def build_response(
    status: int, body: bytes, extra_headers: list[tuple[str, str]] | None = None
) -> bytes:
    lines = [
        "HTTP/1.1 %d %s" % (status, REASONS.get(status, "Unknown")),
        "Content-Type: application/json",
        "Content-Length: %d" % len(body),
        "Cache-Control: no-store",
        # One request per connection keeps the board's three connection slots turning over.
        "Connection: close",
    ]
    for name, value in extra_headers or []:
        lines.append("%s: %s" % (name, value))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def busy_response() -> bytes:
    """What a client gets when all connection slots are taken."""
    return build_response(503, error_json("busy"), [("Retry-After", "1")])


def respond(head: bytes, sensor: Sensor) -> tuple[int, bytes]:
    """The status and full response for a request head; reads the sensor only for ``GET /``."""
    try:
        request = parse_request(head)
    except BadRequestError as exc:
        return 400, build_response(400, error_json(str(exc)))
    if request.path != "/":
        return 404, build_response(404, error_json("not found"))
    if request.method != "GET":
        return 405, build_response(405, error_json("method not allowed"), [("Allow", "GET")])
    try:
        celsius = sensor.read_celsius()
    except SensorError as exc:
        return 500, build_response(500, error_json(str(exc)))
    return 200, build_response(200, reading_json(celsius))
