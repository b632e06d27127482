import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dome.core.angles import shortest_delta
from dome.core.geometry import DomeGeometry


@given(st.floats(0, 89), st.floats(0, 359.99))
def test_a_centred_telescope_looks_out_where_it_points(alt: float, az: float) -> None:
    g = DomeGeometry(radius_m=2.0, latitude_deg=52.0)
    assert abs(shortest_delta(g.slit_azimuth(alt, az), az)) < 1e-6


def test_an_offset_mount_sees_the_slit_shifted() -> None:
    g = DomeGeometry(radius_m=2.0, latitude_deg=52.0, mount_offset_east_m=0.5)
    expected = math.degrees(math.atan2(0.5, math.sqrt(4 - 0.25)))
    assert g.slit_azimuth(0.0, 0.0) == pytest.approx(expected)
    # looking east along the offset the slit is straight east
    assert g.slit_azimuth(0.0, 90.0) == pytest.approx(90.0)


def test_pier_side_flips_the_optical_offset() -> None:
    east = DomeGeometry(radius_m=2.0, latitude_deg=52.0, optical_offset_m=0.3, pier_side="east")
    west = DomeGeometry(radius_m=2.0, latitude_deg=52.0, optical_offset_m=0.3, pier_side="west")
    a, b = east.slit_azimuth(30.0, 180.0), west.slit_azimuth(30.0, 180.0)
    assert shortest_delta(180.0, a) == pytest.approx(-shortest_delta(180.0, b), abs=1e-6)
    assert abs(shortest_delta(a, b)) > 5


def test_a_telescope_outside_the_dome_is_a_configuration_error() -> None:
    g = DomeGeometry(radius_m=1.0, latitude_deg=52.0, mount_offset_north_m=3.0)
    with pytest.raises(ValueError, match="outside the dome"):
        g.slit_azimuth(10.0, 180.0)


@pytest.mark.parametrize(
    ("alt", "az", "lat", "ha"),
    [
        (38.0, 180.0, 52.0, 0.0),  # due south on the meridian
        (0.0, 270.0, 0.0, 90.0),  # at the equator, due west on the horizon: 6 h west
        (0.0, 90.0, 0.0, -90.0),
        (52.0, 0.0, 52.0, 180.0),  # the pole... just below it: the lower meridian
    ],
)
def test_hour_angle_from_altitude_and_azimuth(alt: float, az: float, lat: float, ha: float) -> None:
    from dome.core.geometry import hour_angle

    got = hour_angle(alt - (1e-6 if az == 0 else 0), az, lat)
    assert abs(shortest_delta(got, ha)) < 1e-3
