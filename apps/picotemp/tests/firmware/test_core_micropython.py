"""The firmware core under real MicroPython (the WebAssembly build from npm, under Node),
checked against the same core under CPython and against the datasheet formula."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from picotemp.firmware import core

pytestmark = pytest.mark.integration  # runs node and a second CPython

HERE = Path(__file__).parent
FIRMWARE = Path(core.__file__).parent
REPO = HERE.parents[3]
MICROPYTHON_MJS = (
    REPO
    / "deps/npm/micropython/node_modules/@micropython/micropython-webassembly-pyscript"
    / "micropython.mjs"
)

VECTORS: dict[str, Any] = {
    "raws": [0, 1, 12345, 14158, 14159, 20000, 65535],
    "celsius": [-40.0, 0.0, 21.5, 37.0, 100.0],
    "averages": [[14000], [14000, 14300], [13000, 14000, 15000, 16000]],
    "bad_samples": [[], [-1], [65536], [14000, 99999]],
    "heads": [
        "GET / HTTP/1.1\r\nHost: picotemp\r\nAccept: */*\r\n\r\n",
        "GET /?x=1 HTTP/1.0\r\n\r\n",
        "GET /nope HTTP/1.1\r\n\r\n",
        "PUT / HTTP/1.1\r\n\r\n",
        "get / HTTP/1.1\r\n\r\n",
        "GET / HTTP/9\r\n\r\n",
        "GET /\r\n\r\n",
        "",
    ],
    "adc": [13900, 14050, 14100, 14220],
}


def write_driver(directory: Path) -> Path:
    """The vector driver with the vectors (and main.py's source, to compile) filled in."""
    vectors = dict(VECTORS, MAIN_SOURCE=(FIRMWARE / "main.py").read_text())
    driver = (HERE / "vector_driver.py").read_text()
    # The JSON lands inside a triple-quoted Python string: escape its backslashes.
    script = directory / "driver.py"
    script.write_text(driver.replace("VECTORS_JSON", json.dumps(vectors).replace("\\", "\\\\")))
    return script


def run(command: list[str], cwd: Path) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def micropython_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is not installed: run scripts/bootstrap"
    assert MICROPYTHON_MJS.is_file(), "MicroPython WebAssembly missing: run scripts/bootstrap"
    tmp = tmp_path_factory.mktemp("micropython")
    script = write_driver(tmp)
    runner = HERE / "run_micropython.mjs"
    return run(
        [node, str(runner), str(MICROPYTHON_MJS), str(script), str(FIRMWARE / "core.py")], tmp
    )


@pytest.fixture(scope="module")
def cpython_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("cpython")
    script = write_driver(tmp)
    # core.py beside the script, imported as the top-level `core`, as on the board.
    (tmp / "core.py").write_bytes((FIRMWARE / "core.py").read_bytes())
    return run([sys.executable, str(script)], tmp)


def datasheet_celsius(raw: float) -> float:
    return 27 - (raw * 3.3 / 65535 - 0.706) / 0.001721


def test_it_really_ran_on_micropython(
    micropython_results: dict[str, Any], cpython_results: dict[str, Any]
) -> None:
    assert micropython_results["implementation"] == "micropython"
    assert cpython_results["implementation"] == "cpython"


def test_conversions_match_the_datasheet_on_micropython(
    micropython_results: dict[str, Any],
) -> None:
    expected = [datasheet_celsius(raw) for raw in VECTORS["raws"]]
    assert micropython_results["celsius"] == pytest.approx(expected, rel=1e-6)
    fahrenheit = [c * 9 / 5 + 32 for c in VECTORS["celsius"]]
    assert micropython_results["fahrenheit"] == pytest.approx(fahrenheit, rel=1e-6)
    averages = [datasheet_celsius(sum(r) / len(r)) for r in VECTORS["averages"]]
    assert micropython_results["averages"] == pytest.approx(averages, rel=1e-6)
    assert micropython_results["sample_errors"] == ["SensorError"] * len(VECTORS["bad_samples"])


@pytest.mark.parametrize("key", ["celsius", "fahrenheit", "averages"])
def test_numbers_agree_between_interpreters(
    key: str, micropython_results: dict[str, Any], cpython_results: dict[str, Any]
) -> None:
    assert micropython_results[key] == pytest.approx(cpython_results[key], rel=1e-9)


@pytest.mark.parametrize("key", ["sample_errors", "parsed", "responses", "busy"])
def test_parsing_and_responses_are_byte_identical(
    key: str, micropython_results: dict[str, Any], cpython_results: dict[str, Any]
) -> None:
    assert micropython_results[key] == cpython_results[key]


def test_responses_on_micropython_follow_the_protocol(micropython_results: dict[str, Any]) -> None:
    statuses = [status for status, _, _ in micropython_results["responses"]]
    assert statuses == [200, 200, 404, 405, 400, 400, 400, 400]
    adc = VECTORS["adc"]
    samples = [adc[i % len(adc)] for i in range(core.SAMPLES)]
    expected = datasheet_celsius(sum(samples) / len(samples))
    _, text, reads = micropython_results["responses"][0]
    body = json.loads(text.split("\r\n\r\n", 1)[1])
    assert reads == core.SAMPLES
    assert body["tempC"] == pytest.approx(expected, abs=0.005)
    assert body["tempF"] == pytest.approx(expected * 1.8 + 32, abs=0.005)
    # Errors never touch the sensor.
    assert [reads for _, _, reads in micropython_results["responses"][2:]] == [0] * 6


def test_board_main_compiles_under_micropython(micropython_results: dict[str, Any]) -> None:
    assert micropython_results["main_compiles"] is True
