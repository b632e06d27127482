from __future__ import annotations

import ipaddress

import pytest

from labhosts.layout import BRIDGE, GATEWAY, PREFIX, SUBNET, host_specs


def test_hosts_get_consecutive_addresses_on_the_test_subnet() -> None:
    specs = host_specs(["a1", "b2", "c3"])
    assert [str(s.address) for s in specs] == ["10.213.0.11", "10.213.0.12", "10.213.0.13"]
    assert all(s.address in SUBNET and s.address != GATEWAY for s in specs)
    assert GATEWAY in SUBNET


def test_everything_we_create_carries_the_prefix() -> None:
    spec = host_specs(["sbx-pi1"])[0]
    assert spec.netns.startswith(PREFIX)
    assert spec.veth.startswith(PREFIX)
    assert BRIDGE.startswith(PREFIX)


def test_subnet_is_private_and_not_the_machines_own() -> None:
    assert SUBNET.is_private
    assert ipaddress.IPv4Address("192.0.2.2") not in SUBNET


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["same", "same"], "given twice"),
        (["Upper"], "lower-case"),
        (["1abc"], "lower-case"),
        (["a_b"], "lower-case"),
        (["much-too-long-name"], "too long"),
    ],
)
def test_bad_host_names_are_refused_with_the_reason(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        host_specs(names)
