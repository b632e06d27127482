"""Feeds test vectors to the firmware core and prints the results as one JSON line.

Runs unchanged under CPython and MicroPython, with ``core`` imported as a top-level module
as on the board. The vectors arrive as a JSON literal substituted for VECTORS_JSON below.
"""

import json

import core

VECTORS = json.loads("""VECTORS_JSON""")


class ReplayAdc(core.Adc):
    def __init__(self, values):
        self.values = values
        self.reads = 0

    def read_u16(self):
        value = self.values[self.reads % len(self.values)]
        self.reads += 1
        return value


def error_name(call, *args):
    try:
        call(*args)
    except Exception as exc:
        return type(exc).__name__
    return None


results = {
    "implementation": __import__("sys").implementation.name,
    "celsius": [core.volts_to_celsius(core.raw_to_volts(raw)) for raw in VECTORS["raws"]],
    "fahrenheit": [core.celsius_to_fahrenheit(c) for c in VECTORS["celsius"]],
    "averages": [core.average_celsius(raws) for raws in VECTORS["averages"]],
    "sample_errors": [error_name(core.average_celsius, raws) for raws in VECTORS["bad_samples"]],
    "parsed": [],
    "responses": [],
}
for head in VECTORS["heads"]:
    try:
        request = core.parse_request(head.encode())
        results["parsed"].append([request.method, request.path, request.version])
    except core.BadRequestError as exc:
        results["parsed"].append(["BadRequestError", str(exc)])
for head in VECTORS["heads"]:
    adc = ReplayAdc(VECTORS["adc"])
    status, response = core.respond(head.encode(), core.Sensor(adc))
    results["responses"].append([status, response.decode(), adc.reads])
results["busy"] = core.busy_response().decode()

if "MAIN_SOURCE" in VECTORS:
    # The board's main.py imports modules only the board has, so it is compiled, not run.
    compile(VECTORS["MAIN_SOURCE"], "main.py", "exec")
    results["main_compiles"] = True

print(json.dumps(results))
