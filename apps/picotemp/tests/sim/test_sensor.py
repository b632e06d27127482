import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from picotemp.firmware import core
from picotemp.sim.sensor import SimulatedAdc, TemperatureCurve, celsius_to_raw

# One ADC count is 3.3 V / 65535 = 50 µV, about 0.03 °C on the sensor's slope.
ONE_COUNT_CELSIUS = 3.3 / 65535 / 0.001721


@given(st.floats(min_value=-40, max_value=125))
def test_raw_counts_convert_back_to_the_temperature(celsius: float) -> None:
    back = core.volts_to_celsius(core.raw_to_volts(celsius_to_raw(celsius)))
    assert back == pytest.approx(celsius, abs=ONE_COUNT_CELSIUS / 2 + 1e-9)


def test_raw_counts_are_clamped_to_the_adc_range() -> None:
    assert celsius_to_raw(-10_000) == core.ADC_MAX
    assert celsius_to_raw(10_000) == 0


def test_curve_follows_base_plus_amplitude_sine() -> None:
    curve = TemperatureCurve(20.0, 3.0, 100.0)
    assert curve.celsius_at(0) == pytest.approx(20.0)
    assert curve.celsius_at(25) == pytest.approx(23.0)
    assert curve.celsius_at(75) == pytest.approx(17.0)
    assert curve.celsius_at(10) == pytest.approx(20 + 3 * math.sin(2 * math.pi * 0.1))


@pytest.mark.parametrize(
    ("field", "kwargs"), [("period", {"period_seconds": 0}), ("noise", {"noise_celsius": -1})]
)
def test_curve_refuses_nonsense(field: str, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=field):
        TemperatureCurve(**kwargs)


def test_sensor_over_simulated_adc_reads_the_curve_at_the_clock() -> None:
    now = [1000.0]
    adc = SimulatedAdc(TemperatureCurve(20.0, 3.0, 100.0), clock=lambda: now[0])
    sensor = core.Sensor(adc)
    assert sensor.read_celsius() == pytest.approx(20.0, abs=ONE_COUNT_CELSIUS)
    now[0] += 25
    assert sensor.read_celsius() == pytest.approx(23.0, abs=ONE_COUNT_CELSIUS)


def test_noise_averages_out_over_samples() -> None:
    import random

    adc = SimulatedAdc(TemperatureCurve(25.0, 0.0, 100.0, noise_celsius=0.5), rng=random.Random(7))
    single = [core.Sensor(adc, samples=1).read_celsius() for _ in range(200)]
    averaged = [core.Sensor(adc, samples=16).read_celsius() for _ in range(200)]
    spread = lambda xs: max(xs) - min(xs)  # noqa: E731
    assert spread(averaged) < spread(single) / 2
    assert sum(averaged) / len(averaged) == pytest.approx(25.0, abs=0.1)
